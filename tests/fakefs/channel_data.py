"""What a fake channel writes into its events and CDR variables.

``ChannelData`` is a part of ``FakeCall``: the caller profile headers
(``Caller-*``, ``Other-Leg-*``), switch_channel_event_set_data, the
``sip_*`` variables of a sofia channel and the CDR variables set at hangup.
"""

import time

from .causes import q850


class ChannelData:
    def _sip_vars(self):
        c, d = self.caller, self.destination
        stripped = c.lstrip("+")
        for k, val in [
            ("sip_from_user", c),
            ("sip_from_port", "5070"),
            ("sip_from_uri", "%s@127.0.0.1:5070" % c),
            ("sip_from_host", "127.0.0.1"),
            ("video_media_flow", "disabled"),
            ("audio_media_flow", "disabled"),
            ("text_media_flow", "disabled"),
        ]:
            self.vars[k] = val
        self.vars["channel_name"] = self.channel_name
        for k, val in [
            ("sip_call_id", "1-%d@127.0.0.1" % (hash(self.uuid) % 100000)),
            ("sip_local_network_addr", "127.0.0.1"),
            ("sip_network_ip", "127.0.0.1"),
            ("sip_network_port", "5070"),
            ("sip_invite_stamp", str(self.created)),
            ("sip_received_ip", "127.0.0.1"),
            ("sip_received_port", "5070"),
            ("sip_via_protocol", "udp"),
            ("sip_from_user_stripped", stripped),
            ("sip_from_tag", "%sT1" % (hash(self.uuid) % 10000)),
            ("sofia_profile_name", "internal"),
            ("sofia_profile_url", "sip:mod_sofia@127.0.0.1:5060"),
            ("recovery_profile_name", "internal"),
            ("sip_full_via", "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1-1-0"),
            ("sip_from_display", self.caller_name or None),
            ("sip_full_from", '"%s" <sip:%s@127.0.0.1:5070>;tag=1T1' % (self.caller_name, c)),
            ("sip_full_to", "<sip:%s@127.0.0.1:5060>" % d),
            ("sip_req_user", d),
            ("sip_req_port", "5060"),
            ("sip_req_uri", "%s@127.0.0.1:5060" % d),
            ("sip_req_host", "127.0.0.1"),
            ("sip_to_user", d),
            ("sip_to_port", "5060"),
            ("sip_to_uri", "%s@127.0.0.1:5060" % d),
            ("sip_to_host", "127.0.0.1"),
            ("sip_contact_user", c),
            ("sip_contact_port", "5070"),
            ("sip_contact_uri", "%s@127.0.0.1:5070" % c),
            ("sip_contact_host", "127.0.0.1"),
            ("rtp_use_codec_string", "OPUS,G722,PCMU,PCMA"),
            ("sip_via_host", "127.0.0.1"),
            ("sip_via_port", "5070"),
            ("max_forwards", "70"),
            ("presence_id", "%s@127.0.0.1" % c),
            ("endpoint_disposition", "DELAYED NEGOTIATION"),
        ]:
            if val is not None:
                self.vars[k] = val

    # ------------------------------------------------------------------ events
    def _profile(self, ev, prefix, other=False):
        sip = self.sip
        add = ev.add
        add(prefix + "Direction", self.direction)
        add(prefix + "Logical-Direction", self.direction)
        if sip:
            add(prefix + "Username", self.caller)
        add(prefix + "Dialplan", "XML" if sip else "xml")
        add(prefix + "Caller-ID-Name", self.caller_name or None)
        add(prefix + "Caller-ID-Number", self.caller or None)
        add(prefix + "Orig-Caller-ID-Name", self.caller_name or None)
        add(prefix + "Orig-Caller-ID-Number", self.caller or None)
        if sip:
            add(prefix + "Network-Addr", "127.0.0.1")
        add(prefix + "ANI", self.caller or None)
        add(prefix + "Destination-Number", self.destination)
        add(prefix + "Unique-ID", self.uuid)
        add(prefix + "Source", "mod_sofia" if sip else "mod_loopback")
        add(prefix + "Context", "default")
        add(prefix + "Channel-Name", self.channel_name)
        if not other:
            add(prefix + "Profile-Index", 1)
        add(prefix + "Profile-Created-Time", self.created)
        add(prefix + "Channel-Created-Time", self.created)
        add(prefix + "Channel-Answered-Time", self.times["answered"])
        add(prefix + "Channel-Progress-Time", self.times["progress"])
        add(prefix + "Channel-Progress-Media-Time", self.times["progress_media"])
        add(prefix + "Channel-Hangup-Time", self.times["hangup"])
        add(prefix + "Channel-Transfer-Time", 0)
        add(prefix + "Channel-Resurrect-Time", 0)
        add(prefix + "Channel-Bridged-Time", self.times["bridged"])
        add(prefix + "Channel-Last-Hold", 0)
        add(prefix + "Channel-Hold-Accum", 0)
        add(prefix + "Screen-Bit", "true")
        add(prefix + "Privacy-Hide-Name", "false")
        add(prefix + "Privacy-Hide-Number", "false")

    def _channel_data(self, ev, with_vars=True):
        """switch_channel_event_set_data."""
        add = ev.add
        add("Channel-State", self.state)
        add("Channel-Call-State", self.call_state)
        add("Channel-State-Number", self.state_number)
        add("Channel-Name", self.channel_name)
        add("Unique-ID", self.uuid)
        add("Call-Direction", self.direction)
        add("Presence-Call-Direction", self.direction)
        add("Channel-HIT-Dialplan", "true")
        if self.sip:
            add("Channel-Presence-ID", "%s@127.0.0.1" % self.caller)
        add("Channel-Call-UUID", self.uuid)
        add("Answer-State", self.answer_state)
        if self.down:
            add("Hangup-Cause", self.hangup_cause)
        if self.media:
            codec, rate, bits = ("PCMU", 8000, 64000) if self.sip else ("L16", 8000, 128000)
            add("Channel-Read-Codec-Name", codec)
            add("Channel-Read-Codec-Rate", rate)
            add("Channel-Read-Codec-Bit-Rate", bits)
            add("Channel-Write-Codec-Name", codec)
            add("Channel-Write-Codec-Rate", rate)
            add("Channel-Write-Codec-Bit-Rate", bits)
        self._profile(ev, "Caller-")
        if self.partner is not None:
            add("Other-Type", self.partner_role)
            self.partner._profile(ev, "Other-Leg-", other=True)
        if with_vars:
            for k, v in list(self.vars.items()):
                add("variable_" + k, v)
        return ev

    def _cdr_vars(self):
        sv = self.set_var
        created, ans, end = self.created, self.times["answered"], self.times["hangup"]
        sv("hangup_cause", self.hangup_cause)
        sv("hangup_cause_q850", q850(self.hangup_cause))
        sv("digits_dialed", "none")

        def fmt(us):
            return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(us / 1e6))

        sv("start_stamp", fmt(created))
        sv("profile_start_stamp", fmt(created))
        if ans:
            sv("answer_stamp", fmt(ans))
        sv("end_stamp", fmt(end))
        sv("start_epoch", created // 1000000)
        sv("start_uepoch", created)
        sv("answer_epoch", ans // 1000000)
        sv("answer_uepoch", ans)
        sv("bridge_epoch", self.times["bridged"] // 1000000)
        sv("bridge_uepoch", self.times["bridged"])
        sv("end_epoch", end // 1000000)
        sv("end_uepoch", end)
        if self.executed:
            sv("last_app", self.executed[-1][0])
            sv("last_arg", self.executed[-1][1])
        sv("caller_id", '"%s" <%s>' % (self.caller_name, self.caller))
        dur = end - created
        bill = end - ans if ans else 0
        sv("duration", dur // 1000000)
        sv("billsec", bill // 1000000)
        sv("answersec", (ans - created) // 1000000 if ans else 0)
        sv("waitsec", (ans - created) // 1000000 if ans else 0)
        sv("mduration", dur // 1000)
        sv("billmsec", bill // 1000)
        sv("answermsec", (ans - created) // 1000 if ans else 0)
        sv("uduration", dur)
        sv("billusec", bill)
