"""The error of a switch that cannot be reached, shared by the links and their users."""


class SwitchUnavailable(Exception):
    """No connection to that switch (or to any switch) right now."""
