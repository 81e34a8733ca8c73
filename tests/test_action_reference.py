"""The README's action reference is the one the actions' declarations give."""

from voxology_fs.flow import reference
from voxology_fs.flow.actions import REGISTRY


def test_readme_action_reference_matches_the_declarations():
    with open(reference.README, encoding="utf-8") as fh:
        text = fh.read()
    assert reference.replaced(text) == text, "run python -m voxology_fs.flow.reference"


# The units rule: ring timeouts in seconds (as Make Call's), every other duration in milliseconds.
RING_TIMEOUTS = {("TRANSFER", "timeout"), ("DIAL", "timeout")}


def test_every_action_and_param_is_documented_and_every_duration_has_its_unit():
    for kind, cls in REGISTRY.items():
        assert cls.__doc__, kind
        for param in cls.params_spec:
            assert param.doc, f"{kind} {param.name}"
            looks_like_a_duration = (
                "timeout" in param.name
                or param.name
                in (
                    "length",
                    "time_limit",
                    "max_call_time",
                    "max_length",
                )
                or param.name.endswith("_threshold")
            )
            wanted = ("s" if (kind, param.name) in RING_TIMEOUTS else "ms") if looks_like_a_duration else ""
            assert param.unit == wanted, f"{kind} {param.name}"


def test_the_generator_rewrites_only_between_the_markers(tmp_path):
    readme = tmp_path / "README.rst"
    readme.write_text(f"before\n\n{reference.BEGIN}\nstale\n{reference.END}\n\nafter\n", encoding="utf-8")
    assert reference.main(["--check", "--readme", str(readme)]) == 1
    assert reference.main(["--readme", str(readme)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("before\n") and text.endswith("after\n") and "stale" not in text
    assert "* ``timeout`` (integer, ms, default ``5000``, 0 to 600,000)" in text
    assert reference.main(["--check", "--readme", str(readme)]) == 0
