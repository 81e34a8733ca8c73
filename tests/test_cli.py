"""The command line: simulate prints what the caller hears."""
import os

from voxology_fs import cli

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "voxology_fs", "examples")


def test_simulate_prints_the_call(capsys):
    code = cli.main(["simulate", os.path.join(EXAMPLES, "Example-ConditionalProcessing.json"), "--press", "1"])
    out = capsys.readouterr().out
    assert code == 0
    assert 'caller hears: says: "You pressed 1. Thank you for following instructions."' in out
    assert "caller presses 1" in out and "call ended: status completed" in out


def test_simulate_reports_errors_with_a_nonzero_exit(tmp_path, capsys):
    flow = tmp_path / "bad.json"
    flow.write_text('{"actions": [{"type": "SAY"}]}')
    assert cli.main(["simulate", str(flow)]) == 1
    assert "/actions/0/params/text" in capsys.readouterr().out
