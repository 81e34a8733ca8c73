"""What a fake ESL connection receives: ``event``, ``nixevent``, ``filter``,
and event_handler()'s rules in mod_event_socket.c (subscription, then
filters, then ``myevents``).  A part of ``listener.EslConnection``.
"""

import re

from . import wire


class Subscriptions:
    def subscribed(self, name, subclass=None):
        """The event-list half of event_handler(): this name (and CUSTOM subclass) is taken."""
        if not self.running or not self.events_on:
            return False
        if "ALL" in self.event_list:
            return True
        return name in self.event_list and (
            name != "CUSTOM" or not subclass or self.all_custom or subclass in self.custom
        )

    def wants(self, ev):
        """event_handler() in mod_event_socket.c."""
        send = self.subscribed(ev.name, ev.subclass)
        if send and self.filters:
            send = False
            for name, value in self.filters:
                hval = ev.get(name)
                if hval is None:
                    continue
                comp = value
                pos = True
                while comp and comp[0] in "+- ":
                    if comp[0] == "+":
                        pos = True
                    elif comp[0] == "-":
                        pos = False
                    comp = comp[1:]
                if send and pos:
                    continue
                if not comp:
                    continue
                if value.startswith("/"):
                    pat = comp[1:-1] if comp.endswith("/") and len(comp) > 1 else comp[1:]
                    try:
                        cmp = re.search(pat, hval) is not None
                    except re.error:
                        cmp = False
                else:
                    cmp = hval.lower() == comp.lower()
                if cmp:
                    if pos:
                        send = True
                    else:
                        send = False
                        break
        if send and self.myevents and self.session is not None:
            if ev.get("Unique-ID") != self.session.uuid:
                send = False
            if ev.get("Job-Owner-UUID") == self.session.uuid:
                send = True
        return send

    def _filter(self, rest):
        rest = rest.strip("\r").lstrip(" ")
        name, sep, val = rest.partition(" ")
        if name.lower() == "delete" and sep:
            name, sep2, val = val.partition(" ")
            if name.lower() == "all":
                self.filters = []
            else:
                self.filters = [
                    (n, v) for n, v in self.filters if not (n.lower() == name.lower() and (not sep2 or v == val))
                ]
            return "+OK filter deleted. [%s][%s]" % (name, val if sep2 else "(null)")
        if sep:
            if name.lower() == "add":
                name, _, val = val.partition(" ")
            self.filters.append((name, val))
            return "+OK filter added. [%s]=[%s]" % (name, val)
        return "-ERR invalid syntax"

    def _event(self, cmd):
        words = cmd.strip("\r").split(" ")[1:]
        key_count = 0
        custom = False
        for i, w in enumerate(words):
            if not w:
                continue
            if i == 0 and w.lower() in ("plain", "xml", "json"):
                self.format = w.lower()
                continue
            if custom:
                self.custom.add(w)
            elif w.upper() in wire.EVENT_NAMES:
                key_count += 1
                if w.upper() == "ALL":
                    self.all_custom = True
                self.event_list.add(w.upper())
                if w.upper() == "CUSTOM":
                    custom = True
        if not key_count:
            return "-ERR no keywords supplied"
        self.events_on = True
        return "+OK event listener enabled %s" % self.format

    def _nixevent(self, cmd):
        words = cmd.strip("\r").split(" ")[1:]
        key_count = 0
        custom = False
        for w in words:
            if custom:
                self.custom.discard(w)
            elif w.upper() in wire.EVENT_NAMES:
                key_count += 1
                if w.upper() == "CUSTOM":
                    custom = True
                elif w.upper() == "ALL":
                    self.event_list = set()
                else:
                    if "ALL" in self.event_list:
                        self.event_list = set(wire.EVENT_NAMES) - {"ALL"}
                    self.event_list.discard(w.upper())
        if not key_count:
            return "-ERR no keywords supplied"
        self.events_on = True
        return "+OK events nixed"
