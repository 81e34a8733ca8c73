"""A call's status values, which of them are still live, and how a failed dial reads as one."""

from __future__ import annotations

# Call status values, as callbacks, the REST API and the docs report them.
STATUSES = {
    "queued": "Make Call accepted it; the switch is dialling.",
    "ringing": "The far end is ringing (outbound).",
    "live-in-progress": "The call is up and its flow is running.",
    "completed": "The call ended after it was answered.",
    "busy": "The far end was busy (outbound), or the flow refused the call as busy.",
    "no-answer": "Nobody answered within the timeout (outbound).",
    "rejected": "The flow refused the call (REJECT) or it had no call flow.",
    "canceled": "The caller hung up before the call was answered.",
    "failed": "The call could not be placed or the switch failed.",
}
# Placed but not answered: no call server runs it yet.
PENDING_STATUSES = ("queued", "ringing")
# Answered, with a call server running its flow.
ANSWERED_STATUSES = ("live-in-progress",)
# Not over yet, whoever holds it.
LIVE_STATUSES = PENDING_STATUSES + ANSWERED_STATUSES
FINAL_STATUSES = frozenset(STATUSES) - set(LIVE_STATUSES)

# How a dial's failure cause reads as a call status.
BUSY_CAUSES = frozenset({"USER_BUSY", "CALL_REJECTED"})
NO_ANSWER_CAUSES = frozenset(
    {"NO_ANSWER", "NO_USER_RESPONSE", "ALLOTTED_TIMEOUT", "PROGRESS_TIMEOUT", "RECOVERY_ON_TIMER_EXPIRE"}
)
CANCEL_CAUSES = frozenset({"ORIGINATOR_CANCEL"})


def status_for_cause(cause: str, answered: bool = False) -> str:
    """The final status of a call that no call server finished, from its hangup cause."""
    if answered:
        return "failed"  # answered, but no call server took it
    if cause in BUSY_CAUSES:
        return "busy"
    if cause in NO_ANSWER_CAUSES:
        return "no-answer"
    if cause in CANCEL_CAUSES:
        return "canceled"
    return "failed"
