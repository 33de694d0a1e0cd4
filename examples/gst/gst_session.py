"""A WHIP or WHEP session of GStreamer's webrtcbin with basic-sfu: what the publisher
(whip-publish.py) and the player (whep-play.py) share.

`Session(pipeline, url, token, direction)` negotiates the webrtcbin named `wb` in
`pipeline`: it sets every transceiver to `direction`, makes one offer once ICE gathering
has completed (no trickle: basic-sfu answers with its one candidate, so PATCH is not
needed), POSTs it, applies the answer and calls `on_started(location)`. `delete()` ends
the session.

Two settings make webrtcbin work with basic-sfu (and with other str0m-based servers):
- an ECDSA P-256 DTLS certificate (made with the openssl command): webrtcbin's default is
  RSA, which str0m's DTLS does not accept (the handshake ends in handshake_failure);
- ICE keepalives as STUN binding requests (libnice's keepalive-conncheck): str0m, as an
  ICE-lite server, drops a candidate pair after 15 s without a binding request, and
  libnice's default keepalives are indications.

Any HTTP or pipeline error exits the process non-zero with a message.
"""

import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstWebRTC", "1.0")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

PROGRAM = os.path.basename(sys.argv[0])


def fail(msg):
    print(f"{PROGRAM}: {msg}", file=sys.stderr, flush=True)
    # Also from GLib callbacks, where SystemExit would not end the main loop.
    os._exit(1)


def ecdsa_certificate():
    """A self-signed ECDSA P-256 certificate and key (PEM, certificate first) and its
    SHA-256 fingerprint as SDP writes it. webrtcbin makes an RSA certificate by default, and
    str0m's DTLS, like a growing number of stacks, signs and verifies ECDSA only: with the
    default the handshake ends in a handshake_failure alert."""
    try:
        key = subprocess.run(
            ["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout"],
            check=True, capture_output=True, text=True,
        ).stdout
        cert = subprocess.run(
            ["openssl", "req", "-x509", "-new", "-key", "/dev/stdin", "-days", "30",
             "-subj", f"/CN={PROGRAM}"],
            input=key, check=True, capture_output=True, text=True,
        ).stdout
        fp = subprocess.run(
            ["openssl", "x509", "-noout", "-fingerprint", "-sha256"],
            input=cert, check=True, capture_output=True, text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        fail(f"openssl could not make an ECDSA certificate: {e}")
    return cert + key, fp.strip().split("=", 1)[1]


def http(method, url, token, body=None):
    req = urllib.request.Request(url, data=body, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        req.add_header("Content-Type", "application/sdp")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers, resp.read().decode()
    except urllib.error.HTTPError as e:
        fail(f"{method} {url}: {e.code} {e.read().decode(errors='replace')}")
    except OSError as e:
        fail(f"{method} {url}: {e}")


class Session:
    def __init__(self, pipeline, url, token, direction, on_started):
        self.url, self.token, self.location = url, token, None
        self.on_started = on_started
        self.direction = direction
        self.offered = False
        self.wb = pipeline.get_by_name("wb")
        # Keepalives as STUN binding requests rather than indications: an ICE-lite server
        # (str0m drops a pair after 15 s without a request) counts only requests.
        # (PyGObject drops a reference too many when these wrappers are released: they
        # live until the process ends; see exit().)
        self.ice = self.wb.get_property("ice-agent")
        self.nice = self.ice.get_property("agent")
        self.nice.set_property("keepalive-conncheck", True)
        self.pem, self.fingerprint = ecdsa_certificate()
        pipeline.connect("deep-element-added", self._on_element_added)
        self.wb.connect("on-negotiation-needed", self._on_negotiation_needed)
        self.wb.connect("notify::ice-gathering-state", self._on_gathering)
        pipeline.get_bus().add_watch(GLib.PRIORITY_DEFAULT, self._on_bus)

    def delete(self):
        http("DELETE", self.location, self.token)

    def _on_bus(self, _bus, msg):
        if msg.type == Gst.MessageType.ERROR:
            err, dbg = msg.parse_error()
            fail(f"pipeline error: {err.message} ({dbg})")
        return True

    def _on_element_added(self, _bin, _sub, element):
        factory = element.get_factory()
        if factory is not None and factory.get_name() == "dtlsdec":
            # Before its DTLS agent exists: setting it later makes a new agent whose
            # connection no longer accepts the peer's certificate.
            element.set_property("pem", self.pem)

    def _transceivers(self):
        # One by one: the GArray that "get-transceivers" returns crashes PyGObject.
        i = 0
        while (t := self.wb.emit("get-transceiver", i)) is not None:
            yield t
            i += 1

    def _on_negotiation_needed(self, _wb):
        for t in self._transceivers():
            t.set_property("direction", self.direction)
        promise = Gst.Promise.new_with_change_func(self._on_offer, None)
        self.wb.emit("create-offer", None, promise)

    def _on_offer(self, promise, _):
        reply = promise.get_reply()
        offer = reply.get_value("offer") if reply is not None else None
        if offer is None or offer.sdp is None or self.offered:
            # Negotiation is asked for once per added stream; one offer carries them all.
            return
        self.offered = True
        # The DTLS decoder got the ECDSA certificate when it was made (_on_element_added),
        # but webrtcbin wrote the fingerprint of its default one: name ours instead.
        text = "\r\n".join(
            f"a=fingerprint:sha-256 {self.fingerprint}"
            if line.startswith("a=fingerprint:") else line
            for line in offer.sdp.as_text().split("\r\n")
        )
        ok, sdp = GstSdp.SDPMessage.new_from_text(text)
        if ok != GstSdp.SDPResult.OK:
            fail("could not rewrite the offer")
        offer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.OFFER, sdp)
        self.wb.emit("set-local-description", offer, None)

    def _on_gathering(self, _wb, _pspec):
        complete = GstWebRTC.WebRTCICEGatheringState.COMPLETE
        if self.wb.get_property("ice-gathering-state") == complete and self.location is None:
            self._send_offer()

    def _send_offer(self):
        offer = self.wb.get_property("local-description")
        status, headers, answer = http("POST", self.url, self.token, offer.sdp.as_text().encode())
        if status != 201:
            fail(f"POST {self.url}: status {status}, expected 201")
        location = headers.get("Location")
        if not location:
            fail("201 without a Location")
        self.location = urllib.parse.urljoin(self.url, location)
        ok, sdp = GstSdp.SDPMessage.new_from_text(answer)
        if ok != GstSdp.SDPResult.OK:
            fail("the answer is not SDP")
        desc = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, sdp)
        self.wb.emit("set-remote-description", desc, None)
        self.on_started(self.location)


def exit(code):
    """Ends the process without the interpreter's teardown, which would release the
    wrappers kept by Session once too often."""
    sys.stdout.flush()
    os._exit(code)
