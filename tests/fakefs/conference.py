"""mod_conference in the fake FreeSWITCH: the conference application and API command.

Rooms live in ``switch.conferences`` (name -> Conference); members wait in
the room until they hang up or are kicked, with conference::maintenance events.
``switch.conference_sounds`` lists what rooms played as members entered and
left: (room, "enter" | "exit", the member's channel uuid, file).  A room's
recorder (``recording start``) writes a tone for as long as the room lasted,
closing the file when the last member has left.
"""

import time
import uuid as _uuid

import gevent

from . import wire
from .record import _write_tone, _write_wav
from .registry import api_command, application, switch_state

switch_state("conferences", dict)
switch_state("conference_sounds", list)
switch_state("conference_announcements", list)  # (room, "say" | "play", text or file)
LEAVE_GROUPS = {f"leave-{name}": key for name, key in [(d, d) for d in "0123456789"] + [("star", "*"), ("pound", "#")]}
# The default profile's tones (freeswitch/autoload_configs/conference.conf.xml).
ENTER_SOUND = "tone_stream://%(200,0,500,600,700)"
EXIT_SOUND = "tone_stream://%(500,0,300,200,100,50,25)"


def _play_member_sound(switch, conf, member, kind):
    """A member's conference_enter_sound / conference_exit_sound replaces the
    profile's sound for its own entrance and exit (conference_member.c)."""
    own = member["call"].get_var(f"conference_{kind}_sound")
    sound = own or (ENTER_SOUND if kind == "enter" else EXIT_SOUND)
    switch.conference_sounds.append((conf.name, kind, member["call"].uuid, sound))


class Conference:
    def __init__(self, name, profile):
        self.name = name
        self.profile = profile
        self.uuid = str(_uuid.uuid4())
        self.members = []  # dicts: id, call, muted
        self.max_members = 0
        self.next_id = 1
        self.recordings = []  # (path, began): the room's recorders, closed when it ends
        self.unheard = set()  # (speaker id, listener id): relate ... nospeak


def _conf_event(switch, conf, action, member=None, extra=()):
    names = {
        "add-member": ("conference_member.c", "conference_member_add", 962),
        "del-member": ("conference_member.c", "conference_member_del", 1355),
        "kick-member": ("conference_api.c", "conference_api_sub_kick", 902),
        "mute-member": ("conference_api.c", "conference_api_sub_mute", 339),
        "unmute-member": ("conference_api.c", "conference_api_sub_unmute", 389),
        "conference-create": ("mod_conference.c", "conference_new", 3848),
        "conference-destroy": ("mod_conference.c", "conference_thread_run", 863),
        "floor-change": ("conference_member.c", "conference_member_set_floor_holder", 1158),
        "start-talking": ("conference_loop.c", "conference_loop_input", 1154),
        "stop-talking": ("conference_loop.c", "stop_talking_handler", 783),
        "start-recording": ("conference_record.c", "conference_record_thread_run", 319),
        "stop-recording": ("conference_record.c", "conference_record_thread_run", 427),
    }
    ev = wire.Event("CUSTOM", subclass="conference::maintenance", calling=names.get(action))
    ev.add("Conference-Name", conf.name)
    ev.add("Conference-Domain", "127.0.0.1")
    ev.add("Conference-Size", len(conf.members))
    ev.add("Conference-Ghosts", 0)
    ev.add("Conference-Profile-Name", conf.profile)
    ev.add("Conference-Unique-ID", conf.uuid)
    if member is not None:
        ev.add("Floor", "true" if conf.members and conf.members[0] is member else "false")
        member["call"]._channel_data(ev)
        for k, v in (
            ("Video", "false"),
            ("Hear", "true"),
            ("See", "true"),
            ("Speak", "false" if member["muted"] else "true"),
            ("Talking", "true" if member.get("talking") else "false"),
            ("Mute-Detect", "false"),
            ("Hold", "false"),
            ("Member-ID", member["id"]),
            ("Member-Type", "member"),
            ("Member-Ghost", "false"),
            ("Energy-Level", 100),
            ("Current-Energy", 3109 if member.get("talking") else 0),
        ):
            ev.add(k, v)
    for k, v in extra:
        ev.add(k, v)
    ev.add("Action", action)
    switch.fire(ev)


@application("conference", media=True)
def app_conference(call, arg):
    switch = call.switch
    name, _, profile = arg.strip().partition("@")
    profile = (profile or "default").split("+")[0]
    name = name.split("+")[0]
    conf = switch.conferences.get(name)
    if conf is None:
        conf = switch.conferences[name] = Conference(name, profile)
        # Read from the channel that creates the room (mod_conference.c, conference_max_members).
        limit = call.get_var("conference_max_members") or ""
        conf.max_members = int(limit) if limit.isdigit() else 0
        _conf_event(switch, conf, "conference-create")
    if conf.max_members and len(conf.members) >= conf.max_members:
        return  # full: the application returns without a member
    member = {"id": conf.next_id, "call": call, "muted": False, "held": False}
    conf.next_id += 1
    conf.members.append(member)
    call.set_var("conference_name", name)
    call.set_var("conference_member_id", member["id"])
    call.set_var("conference_uuid", conf.uuid)
    call.set_var("conference_moderator", "false")
    _conf_event(switch, conf, "add-member", member)
    _play_member_sound(switch, conf, member, "enter")
    if conf.members == [member]:  # the first member takes the floor (conference_end.inbound.log)
        _conf_event(switch, conf, "floor-change", member, [("Old-ID", "none"), ("New-ID", member["id"])])
    # conference_controls names a caller-controls group (freeswitch/autoload_configs/
    # conference.conf.xml): ours are leave-KEY, whose key's "hangup" action ends the membership.
    leave_key = LEAVE_GROUPS.get(call.get_var("conference_controls") or "")
    try:
        if leave_key:
            call._kicked = False
            call._wait(None, dtmf=leave_key, breakable=False)
            call._kicked = False
        else:
            call._wait_kicked()
    finally:
        if member in conf.members:
            if conf.members[0] is member:  # the floor holder leaves: nobody has the floor
                _conf_event(switch, conf, "floor-change", extra=[("Old-ID", "none"), ("New-ID", "none")])
            conf.members.remove(member)
        _conf_event(switch, conf, "del-member", member)
        if conf.members:
            _play_member_sound(switch, conf, member, "exit")
        if not conf.members:
            if switch.conferences.get(name) is conf:
                del switch.conferences[name]
            # The room's thread destroys it after the last member's application
            # has completed (conference_end.inbound.log); its recorders stop first.
            gevent.spawn(_room_ends, switch, conf)


def _room_ends(switch, conf):
    for i, (path, began) in enumerate(conf.recordings):
        # The room "said" a tone for as long as it was recorded, in virtual time.
        samples = _write_tone(path, (time.monotonic() - began) / switch.time_scale * 1000)
        extra = [
            ("Path", path),
            ("Other-Recordings", "true" if i + 1 < len(conf.recordings) else "false"),
            ("Samples-Out", samples),
            ("Samplerate", 8000),
            ("Milliseconds-Elapsed", samples // 8),
            ("Record-File-Size", 44 + 2 * samples),
        ]
        _conf_event(switch, conf, "stop-recording", extra=extra)  # conference_record.inbound.log
    _conf_event(switch, conf, "conference-destroy")


@api_command("conference")
def api_conference(switch, arg, session):
    argv = (arg or "").split()
    if len(argv) < 2:
        return "-ERR Conference command requires a conference name and a command\n"
    name, sub = argv[0], argv[1].lower()
    conf = switch.conferences.get(name)
    if conf is None:
        return "-ERR Conference %s not found\n" % name
    members = list(reversed(conf.members))
    if len(argv) > 2 and argv[2] not in ("all", "last"):
        members = [m for m in members if str(m["id"]) == argv[2]]
    elif len(argv) > 2 and argv[2] == "last":
        members = members[:1]
    if sub == "list":
        lines = []
        for m in reversed(conf.members):
            c = m["call"]
            flags = "hear" if m["muted"] else "hear|speak"
            if conf.members[0] is m:
                flags += "|floor"
            lines.append(
                "%d;%s;%s;%s;%s;%s;0;0;100\n" % (m["id"], c.channel_name, c.uuid, c.caller_name, c.caller, flags)
            )
        return "".join(lines)
    if sub in ("kick", "hup"):
        out = []
        for m in members:
            _conf_event(switch, conf, "kick-member", m)
            m["call"]._kicked = True
            m["call"]._wake.set()
            out.append("+OK kicked %d\n" % m["id"])
        return "".join(out) or "-ERR Non-Existant ID %s\n" % (argv[2] if len(argv) > 2 else "")
    if sub in ("mute", "unmute"):
        out = []
        for m in members:
            m["muted"] = sub == "mute"
            _conf_event(switch, conf, sub + "-member", m)
            out.append("+OK %s %d\n" % (sub, m["id"]))
        return "".join(out)
    if sub in ("hold", "unhold"):
        # conference_api.c: hold mutes the member and plays it the file given, if any;
        # unhold stops the member's files.
        out = []
        for m in members:
            m["held"] = sub == "hold"
            m["hold_file"] = " ".join(argv[3:]) if sub == "hold" else ""
            out.append("+OK %s %d\n" % (sub, m["id"]))
        return "".join(out) or "-ERR Non-Existant ID %s\n" % (argv[2] if len(argv) > 2 else "")
    if sub == "recording" and len(argv) >= 4 and argv[2] == "start":
        path = argv[3]
        if any(p == path for p, _ in conf.recordings):
            return "-ERR file [%s] is already being used for recording.\n" % path
        # The recorder writes from now on; the file's sizes are written when the room ends.
        _write_wav(path)
        with open(path, "ab") as f:
            f.write(bytes(320))  # a first frame: an open file's header does not count it yet
        conf.recordings.append((path, time.monotonic()))
        _conf_event(switch, conf, "start-recording", extra=[("Path", path)])
        return "+OK Record file %s\n" % path
    if sub == "relate" and len(argv) > 4:
        out = []
        for speaker in argv[2].split(","):
            for listener in argv[3].split(","):
                pair = (int(speaker), int(listener))
                if argv[4] == "clear":
                    found = pair in conf.unheard
                    conf.unheard.discard(pair)
                    out.append(
                        "+OK relationship %d->%d cleared.\n" % pair
                        if found
                        else "-ERR relationship %d->%d not found.\n" % pair
                    )
                else:
                    conf.unheard.add(pair)
                    out.append("+OK %d->%d %s set\n" % (*pair, argv[4]))
        return "".join(out)
    if sub == "say":
        # The text is the rest of the line, after our {tts_engine=...,tts_voice=...}.
        text = (arg or "").split(None, 2)[2] if len(argv) > 2 else ""
        if not text:
            return "-ERR (say) Error! No text.\n"
        switch.conference_announcements.append((name, "say", text))
        return "+OK (say) OK\n"
    if sub == "play" and len(argv) > 2:
        import os

        if not os.path.exists(argv[2]):
            return "-ERR (play) File: %s not found.\n" % argv[2]
        switch.conference_announcements.append((name, "play", argv[2]))
        return "+OK (play) Playing file %s\n" % argv[2]
    if sub == "count":
        return "%d\n" % len(conf.members)
    return "-ERR Unknown conference command %s\n" % sub


def member_talks(switch, call, talking):
    """The member on ``call`` starts or stops talking, as mod_conference hears it."""
    for conf in switch.conferences.values():
        for member in conf.members:
            if member["call"] is call:
                member["talking"] = talking
                _conf_event(switch, conf, "start-talking" if talking else "stop-talking", member)
                return True
    return False


def end_conference(switch, name):
    """The room ends (as when its endconf member leaves): FreeSWITCH hangs up
    every member still in it (NORMAL_CLEARING, conference_end.*.log)."""
    conf = switch.conferences.get(name)
    if conf is None:
        return False
    for m in list(conf.members):
        m["call"]._hangup("NORMAL_CLEARING")
    return True
