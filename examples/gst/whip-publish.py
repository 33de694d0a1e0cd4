#!/usr/bin/python3
"""Publish a test pattern and a tone to a WHIP endpoint with GStreamer's webrtcbin.

    whip-publish.py --url http://HOST:PORT/whip/ROOM --token JWT [--codec vp8|h264]
                    [--seconds N] [--width W --height H]

Two settings make webrtcbin work with basic-sfu (and with other str0m-based servers):
- an ECDSA P-256 DTLS certificate (made with the openssl command): webrtcbin's default is
  RSA, which str0m's DTLS does not accept (the handshake ends in handshake_failure);
- ICE keepalives as STUN binding requests (libnice's keepalive-conncheck): str0m, as an
  ICE-lite server, drops a candidate pair after 15 s without a binding request, and
  libnice's default keepalives are indications.

The offer is sent once ICE gathering has completed (no trickle: basic-sfu answers with its
one candidate, so PATCH is not needed). The script prints the session URL on a line
`location <URL>` once the answer is applied, publishes for --seconds, then ends the
session with DELETE, prints `deleted` and exits 0. Any HTTP or pipeline error exits
non-zero with a message.

Needs Debian's python3-gst-1.0, gir1.2-gst-plugins-bad-1.0, gstreamer1.0-plugins-bad
(webrtcbin), -good (vp8enc), -ugly (x264enc) and gstreamer1.0-nice.
"""

import argparse
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

VIDEO = {
    "vp8": "vp8enc deadline=1 cpu-used=8 target-bitrate=800000 keyframe-max-dist=3000 "
    "! rtpvp8pay pt=96 ! application/x-rtp,media=video,encoding-name=VP8,payload=96",
    "h264": "x264enc tune=zerolatency speed-preset=ultrafast bitrate=800 key-int-max=3000 "
    "! video/x-h264,profile=constrained-baseline "
    "! rtph264pay pt=102 config-interval=-1 aggregate-mode=zero-latency "
    "! application/x-rtp,media=video,encoding-name=H264,payload=102",
}


def fail(msg):
    print(f"whip-publish: {msg}", file=sys.stderr, flush=True)
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
             "-subj", "/CN=whip-publish"],
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--codec", choices=sorted(VIDEO), default="vp8")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    args = ap.parse_args()

    Gst.init(None)
    pipeline = Gst.parse_launch(
        "webrtcbin name=wb bundle-policy=max-bundle "
        f"videotestsrc is-live=true pattern=ball "
        f"! video/x-raw,width={args.width},height={args.height},framerate=30/1 "
        f"! videoconvert ! queue ! {VIDEO[args.codec]} ! wb. "
        "audiotestsrc is-live=true wave=sine volume=0.1 ! audioconvert ! audioresample "
        "! opusenc ! rtpopuspay pt=111 "
        "! application/x-rtp,media=audio,encoding-name=OPUS,payload=111 ! wb."
    )
    wb = pipeline.get_by_name("wb")
    # Keepalives as STUN binding requests rather than indications: an ICE-lite server
    # (str0m drops a pair after 15 s without a request) counts only requests.
    # (PyGObject drops a reference too many when these wrappers are released: they live
    # until the process ends.)
    ice = wb.get_property("ice-agent")
    nice = ice.get_property("agent")
    nice.set_property("keepalive-conncheck", True)
    loop = GLib.MainLoop()
    state = {"location": None, "offered": False}

    def on_bus(_bus, msg):
        if msg.type == Gst.MessageType.ERROR:
            err, dbg = msg.parse_error()
            fail(f"pipeline error: {err.message} ({dbg})")
        return True

    def send_offer():
        offer = wb.get_property("local-description")
        status, headers, answer = http(
            "POST", args.url, args.token, offer.sdp.as_text().encode()
        )
        if status != 201:
            fail(f"POST {args.url}: status {status}, expected 201")
        location = headers.get("Location")
        if not location:
            fail("201 without a Location")
        state["location"] = urllib.parse.urljoin(args.url, location)
        ok, sdp = GstSdp.SDPMessage.new_from_text(answer)
        if ok != GstSdp.SDPResult.OK:
            fail("the answer is not SDP")
        desc = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, sdp)
        wb.emit("set-remote-description", desc, None)
        print(f"location {state['location']}", flush=True)
        GLib.timeout_add(int(args.seconds * 1000), loop.quit)

    def on_gathering(_wb, _pspec):
        if wb.get_property("ice-gathering-state") == GstWebRTC.WebRTCICEGatheringState.COMPLETE:
            if state["location"] is None:
                send_offer()

    pem, fingerprint = ecdsa_certificate()

    def on_offer(promise, _):
        reply = promise.get_reply()
        offer = reply.get_value("offer") if reply is not None else None
        if offer is None or offer.sdp is None or state["offered"]:
            # Negotiation is asked for once per added stream; one offer carries them all.
            return
        state["offered"] = True
        # The DTLS decoder got the ECDSA certificate when it was made (on_element_added),
        # but webrtcbin wrote the fingerprint of its default one: name ours instead.
        text = "\r\n".join(
            f"a=fingerprint:sha-256 {fingerprint}" if line.startswith("a=fingerprint:") else line
            for line in offer.sdp.as_text().split("\r\n")
        )
        ok, sdp = GstSdp.SDPMessage.new_from_text(text)
        if ok != GstSdp.SDPResult.OK:
            fail("could not rewrite the offer")
        offer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.OFFER, sdp)
        wb.emit("set-local-description", offer, None)

    def on_element_added(_bin, _sub, element):
        factory = element.get_factory()
        if factory is not None and factory.get_name() == "dtlsdec":
            # Before its DTLS agent exists: setting it later makes a new agent whose
            # connection no longer accepts the peer's certificate.
            element.set_property("pem", pem)

    pipeline.connect("deep-element-added", on_element_added)

    def transceivers():
        # One by one: the GArray that "get-transceivers" returns crashes PyGObject.
        i = 0
        while (t := wb.emit("get-transceiver", i)) is not None:
            yield t
            i += 1

    def on_negotiation_needed(_wb):
        for t in transceivers():
            t.set_property("direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
        wb.emit("create-offer", None, Gst.Promise.new_with_change_func(on_offer, None))

    wb.connect("on-negotiation-needed", on_negotiation_needed)
    wb.connect("notify::ice-gathering-state", on_gathering)
    pipeline.get_bus().add_watch(GLib.PRIORITY_DEFAULT, on_bus)
    pipeline.set_state(Gst.State.PLAYING)
    # Nothing answered within 30 s: give up rather than hang.
    GLib.timeout_add_seconds(30, lambda: state["location"] is not None or fail("no answer in 30 s"))
    loop.run()
    # End the session first: stopping the pipeline closes DTLS, and the SFU removes a peer
    # whose DTLS closed, so a DELETE after it would find no session.
    http("DELETE", state["location"], args.token)
    pipeline.set_state(Gst.State.NULL)
    print("deleted", flush=True)
    # Skip the interpreter's teardown, which would release the wrappers kept above once
    # too often.
    os._exit(0)


if __name__ == "__main__":
    main()
