"""Phone numbers: E.164 normalisation and offline geography.

Geography comes from the number itself through libphonenumber's data (the
``phonenumbers`` package): no lookup service is called while a call waits.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import phonenumbers
from phonenumbers import geocoder
from phonenumbers import timezone as pn_timezone


class InvalidNumber(ValueError):
    pass


# libphonenumber describes North American numbers as "City, ST" or by the
# full state or province name; callbacks carry the two-letter code.
_NANP_REGIONS = {
    "Alabama": "AL",
    "Alaska": "AK",
    "Arizona": "AZ",
    "Arkansas": "AR",
    "California": "CA",
    "Colorado": "CO",
    "Connecticut": "CT",
    "Delaware": "DE",
    "Florida": "FL",
    "Georgia": "GA",
    "Hawaii": "HI",
    "Idaho": "ID",
    "Illinois": "IL",
    "Indiana": "IN",
    "Iowa": "IA",
    "Kansas": "KS",
    "Kentucky": "KY",
    "Louisiana": "LA",
    "Maine": "ME",
    "Maryland": "MD",
    "Massachusetts": "MA",
    "Michigan": "MI",
    "Minnesota": "MN",
    "Mississippi": "MS",
    "Missouri": "MO",
    "Montana": "MT",
    "Nebraska": "NE",
    "Nevada": "NV",
    "New Hampshire": "NH",
    "New Jersey": "NJ",
    "New Mexico": "NM",
    "New York": "NY",
    "North Carolina": "NC",
    "North Dakota": "ND",
    "Ohio": "OH",
    "Oklahoma": "OK",
    "Oregon": "OR",
    "Pennsylvania": "PA",
    "Rhode Island": "RI",
    "South Carolina": "SC",
    "South Dakota": "SD",
    "Tennessee": "TN",
    "Texas": "TX",
    "Utah": "UT",
    "Vermont": "VT",
    "Virginia": "VA",
    "Washington": "WA",
    "West Virginia": "WV",
    "Wisconsin": "WI",
    "Wyoming": "WY",
    "Washington D.C.": "DC",
    "Washington DC": "DC",
    "Puerto Rico": "PR",
    "Guam": "GU",
    "US Virgin Islands": "VI",
    "Alberta": "AB",
    "British Columbia": "BC",
    "Manitoba": "MB",
    "New Brunswick": "NB",
    "Newfoundland and Labrador": "NL",
    "Nova Scotia": "NS",
    "Ontario": "ON",
    "Prince Edward Island": "PE",
    "Quebec": "QC",
    "Saskatchewan": "SK",
    "Northwest Territories": "NT",
    "Nunavut": "NU",
    "Yukon": "YT",
}


@dataclass(frozen=True)
class Geography:
    city: str = ""
    region: str = ""
    country: str = ""
    timezone: str = ""


def parse(number: str, default_region: str = "US") -> phonenumbers.PhoneNumber:
    text = (number or "").strip()
    if not text:
        raise InvalidNumber("empty number")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidNumber(f"{number!r} is not a phone number: {exc}") from None
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidNumber(f"{number!r} is not a possible phone number")
    return parsed


def normalize(number: str, default_region: str = "US") -> str:
    """``(714) 555-1212`` -> ``+17145551212``; raises :class:`InvalidNumber`."""
    return phonenumbers.format_number(parse(number, default_region), phonenumbers.PhoneNumberFormat.E164)


def try_normalize(number: str, default_region: str = "US") -> str | None:
    try:
        return normalize(number, default_region)
    except InvalidNumber:
        return None


@functools.lru_cache(maxsize=4096)
def geography(e164: str) -> Geography:
    """City, region, country and time zone of a number, or blanks when unknown."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return Geography()
    country = phonenumbers.region_code_for_number(parsed) or ""
    description = geocoder.description_for_number(parsed, "en") or ""
    city, region = description, ""
    if country in ("US", "CA") or parsed.country_code == 1:
        if ", " in description:
            city, region = description.rsplit(", ", 1)
        elif description in _NANP_REGIONS:
            city, region = "", _NANP_REGIONS[description]
    elif description == _country_name(country):
        city = ""
    zones = [z for z in pn_timezone.time_zones_for_number(parsed) if z != "Etc/Unknown"]
    return Geography(city=city, region=region, country=country, timezone=zones[0] if zones else "")


def _country_name(code: str) -> str:
    if not code:
        return ""
    example = phonenumbers.example_number(code)
    return geocoder.country_name_for_number(example, "en") if example else ""


def national_number(e164: str) -> str:
    """The number without its country code (``+17145551212`` -> ``7145551212``)."""
    return str(phonenumbers.parse(e164, None).national_number)
