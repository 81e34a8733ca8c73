"""Conference rooms: the live view (who is inside) and control (mute, hold, kick, announce, end).

A room is found by the customer's name within the caller's account only;
another account's room of the same name is another room, and unknown here
(404).  Commands go to the room's switch with our room name and FreeSWITCH's
member id, both ours: nothing of the request reaches the switch as text.
"""

from __future__ import annotations

from flask import Blueprint, request

from .. import conferences, db
from ..audio import AudioCache
from ..conference_events import ConferenceEvents
from ..esl import args as fsargs
from ..esl.conference import relate_commands
from ..flow.actions.base import http_url_problem
from ..flow.actions.conference import ENDED_BY_API, conference_room
from ..flow.errors import ActionFailed
from ..models import Conference, ConferenceMember
from ..timeutil import iso
from .common import account_id, callbacks, json_body, per_worker, settings, string, switch_errors, switches
from .errors import bad_field, not_found

bp = Blueprint("conferences", __name__)
# What a member on hold hears: the profile's hold tone, looped (conference.conf.xml's moh-sound).
HOLD_AUDIO = "tone_stream://%(400,2600,440);loops=-1"


def _live_members(room: str):
    return (
        ConferenceMember.select()
        .where(ConferenceMember.conference == room, ConferenceMember.left_at.is_null())
        .order_by(ConferenceMember.joined_at, ConferenceMember.id)
    )


def _room(name: str) -> Conference:
    """The account's room of that name with someone inside, or 404."""
    room = conference_room(account_id(), name)
    with db.database.connection_context():
        conference = Conference.get_or_none(Conference.room == room, Conference.account == account_id())
        if conference is None or not _live_members(room).exists():
            raise not_found(f"no conference {name!r} is running")
    return conference


def _member(conference: Conference, call_id: str) -> ConferenceMember:
    with db.database.connection_context():
        member = _live_members(conference.room).where(ConferenceMember.call == call_id).first()
    if member is None:
        raise not_found(f"call {call_id} is not in conference {conference.name!r}")
    return member


def _member_json(member: ConferenceMember) -> dict:
    return {
        "call_id": member.call_id,
        "muted": member.muted,
        "hold": member.held,
        "coaching": member.coaching,
        "joined_at": iso(member.joined_at),
    }


def _coach(conference: Conference, member: ConferenceMember, coach: str | None) -> None:
    """The member speaks to ``coach`` alone (None: to everyone again)."""
    if coach is not None:
        with db.database.connection_context():
            if not _live_members(conference.room).where(ConferenceMember.call == coach).exists():
                raise bad_field("coach", f"call {coach} is not in conference {conference.name!r}")
    me, others, unhearing = conferences.RoomBook().coach(conference.room, member.call_id, coach)
    link = switches().link(conference.switch)
    with switch_errors():
        # A relationship not set answers -ERR: nothing to clear is fine.
        for command in relate_commands(conference.room, [(me, o) for o in others], "clear"):
            link.api(command)
        for command in relate_commands(conference.room, [(me, o) for o in unhearing], "nospeak"):
            link.api(command)
    member.coaching = coach


def _switch_command(conference: Conference, command: str) -> str:
    with switch_errors():
        reply = switches().link(conference.switch).api(f"conference {conference.room} {command}")
    if reply.startswith("-ERR"):
        # The room or member went away between our read and the switch's.
        raise not_found(f"conference {conference.name!r} has no such member now")
    return reply


@bp.get("/Conferences")
def list_conferences():
    with db.database.connection_context():
        rooms = list(Conference.select().where(Conference.account == account_id()).order_by(Conference.created_at))
        found = []
        for conference in rooms:
            count = _live_members(conference.room).count()
            if count:
                found.append({"name": conference.name, "member_count": count, "created_at": iso(conference.created_at)})
    return {"conferences": found}


@bp.get("/Conferences/<name>")
def get_conference(name):
    conference = _room(name)
    with db.database.connection_context():
        members = [_member_json(m) for m in _live_members(conference.room)]
    return {"name": conference.name, "member_count": len(members), "members": members}


@bp.post("/Conferences/<name>/Participants/<call_id>")
def update_participant(name, call_id):
    """Mute or unmute a member, put it on hold (it hears hold audio and is not heard) or take it
    off, or make it coach another member (heard by that one alone) or no one."""
    body = json_body()
    unknown = sorted(set(body) - {"muted", "hold", "coach"})
    if unknown:
        raise bad_field(unknown[0], f"unknown field {unknown[0]!r}")
    if not body:
        raise bad_field("muted", "give muted or hold (true or false), or coach (a call id or null)")
    for field in ("muted", "hold"):
        if field in body and not isinstance(body[field], bool):
            raise bad_field(field, f"{field} must be true or false")
    coach = body.get("coach")
    if coach is not None and (not isinstance(coach, str) or coach == call_id):
        raise bad_field("coach", "coach must be the call id of another member, or null")
    conference = _room(name)
    member = _member(conference, call_id)
    if "coach" in body:
        _coach(conference, member, coach)
    member_id = int(member.member_id)
    if "muted" in body:
        _switch_command(conference, f"{'mute' if body['muted'] else 'unmute'} {member_id}")
        member.muted = body["muted"]
    if "hold" in body:
        _switch_command(conference, f"hold {member_id} {HOLD_AUDIO}" if body["hold"] else f"unhold {member_id}")
        member.held = body["hold"]
    with db.unit_of_work():
        ConferenceMember.update(muted=member.muted, held=member.held).where(ConferenceMember.id == member.id).execute()
    events = room_events()
    for field, event in (("muted", "mute"), ("hold", "hold")):
        if field in body:
            events.tell(conference.room, event, member.call_id, **{field: body[field]})
    return _member_json(member)


@bp.delete("/Conferences/<name>/Participants/<call_id>")
def kick_participant(name, call_id):
    conference = _room(name)
    member = _member(conference, call_id)
    _switch_command(conference, f"kick {int(member.member_id)}")
    return "", 204


@bp.post("/Conferences/<name>/End")
def end_conference(name):
    if request.content_length:
        json_body()  # a body, if any, is JSON; nothing in it is read
    conference = _room(name)
    conferences.RoomBook().ending(conference.room, ENDED_BY_API)
    _switch_command(conference, "kick all")
    return {"name": conference.name, "status": "ending"}, 202


@bp.post("/Conferences/<name>/Announce")
def announce(name):
    """Say a text (the switch's TTS) or play an audio URL to everyone in the room."""
    body = json_body()
    unknown = sorted(set(body) - {"text", "url"})
    if unknown:
        raise bad_field(unknown[0], f"unknown field {unknown[0]!r}")
    if ("text" in body) == ("url" in body):
        raise bad_field("text", "give text (to say) or url (to play), one of them")
    conference = _room(name)
    if "text" in body:
        text = string(body, "text", "text", required=True, max_length=2000)
        if not fsargs.plain_text(text):
            raise bad_field("text", "text is empty")
        tts = settings()
        voice = fsargs.tts_prefix(tts.tts_engine, tts.tts_voice)
        # Ours first: a text that starts with "{" is only text (mod_conference
        # reads one bracket of channel variables at the start).
        _switch_command(conference, f"say {voice}{fsargs.plain_text(text)}")
        what = {"text": text}
    else:
        url = string(body, "url", "url", required=True, max_length=2048)
        if problem := http_url_problem(url):
            raise bad_field("url", problem)
        try:
            path = audio_cache().fetch(url)
        except ActionFailed as exc:
            raise bad_field("url", str(exc)) from None
        _switch_command(conference, f"play {fsargs.checked_path(path)}")
        what = {"url": url}
    room_events().tell(conference.room, "announcement", None, **what)
    return {"name": conference.name, "status": "announcing", **what}, 202


def audio_cache() -> AudioCache:
    return per_worker("VOX_AUDIO", AudioCache.from_settings)


def room_events() -> ConferenceEvents:
    return per_worker("VOX_ROOM_EVENTS", lambda settings: ConferenceEvents(callbacks()))
