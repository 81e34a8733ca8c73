"""Call server, fake switch and REST app wired together on loopback, for the API tests."""

from tests.fakefs import FakeSwitch
from voxology_fs.api import create_app
from voxology_fs.callserver import CallServer
from voxology_fs.settings import Switch
from voxology_fs.switches import Switches

from .provision import tenant
from .rest import Client


class Rig:
    """Call server + fake switch + REST app wired together on loopback."""

    def __init__(self, settings, n_switches=1):
        self.server = CallServer(settings)
        self.server.start()
        self.fakes = []
        switches = []
        for i in range(n_switches):
            fake = FakeSwitch(outbound=("127.0.0.1", self.server.port), time_scale=0.01, media_ms=5)
            fake.start()
            self.fakes.append(fake)
            switches.append(
                Switch(
                    name=f"fs{i + 1}",
                    host="127.0.0.1",
                    port=fake.esl_port,
                    password="ClueCon",
                    dial_string="loopback/{number}",
                    socket_address=f"127.0.0.1:{self.server.port}",
                )
            )
        self.settings = settings.replace(switches=tuple(switches), api_rate_limit=0)
        self.switches = Switches(self.settings, sweep_interval=0).start()
        assert self.switches.wait_connected(5)
        self.app = create_app(self.settings, switches=self.switches)
        self.fake = self.fakes[0]

    def client(self, name="acme"):
        _account, _application, key = tenant(name)
        return Client(self.app.test_client(), key)

    def close(self):
        self.switches.stop()
        for fake in self.fakes:
            fake.stop()
        self.server.stop()


def of_type(server, kind):
    """Callback requests of a type, whatever their encoding (GET query or JSON)."""
    out = []
    for r in server.requests:
        if r["json"] and r["json"].get("type") == kind:
            out.append(r["json"])
        elif dict(r["query"]).get("type") == kind:
            out.append(dict(r["query"]))
    return out
