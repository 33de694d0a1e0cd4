#!/usr/bin/python3
"""Publish a test pattern and a tone to a WHIP endpoint with GStreamer's webrtcbin.

    whip-publish.py --url http://HOST:PORT/whip/ROOM --token JWT [--codec vp8|h264]
                    [--seconds N] [--width W --height H]

The script prints the session URL on a line `location <URL>` once the answer is applied,
publishes for --seconds, then ends the session with DELETE, prints `deleted` and exits 0.
Any HTTP or pipeline error exits non-zero with a message. The settings webrtcbin needs
with basic-sfu are in gst_session.py.

Needs Debian's python3-gst-1.0, gir1.2-gst-plugins-bad-1.0, gstreamer1.0-plugins-bad
(webrtcbin), -good (vp8enc), -ugly (x264enc), gstreamer1.0-nice and openssl.
"""

import argparse

from gst_session import GLib, Gst, GstWebRTC, Session, exit, fail

VIDEO = {
    "vp8": "vp8enc deadline=1 cpu-used=8 target-bitrate=800000 keyframe-max-dist=3000 "
    "! rtpvp8pay pt=96 ! application/x-rtp,media=video,encoding-name=VP8,payload=96",
    "h264": "x264enc tune=zerolatency speed-preset=ultrafast bitrate=800 key-int-max=3000 "
    "! video/x-h264,profile=constrained-baseline "
    "! rtph264pay pt=102 config-interval=-1 aggregate-mode=zero-latency "
    "! application/x-rtp,media=video,encoding-name=H264,payload=102",
}


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
    loop = GLib.MainLoop()

    def started(location):
        print(f"location {location}", flush=True)
        GLib.timeout_add(int(args.seconds * 1000), loop.quit)

    session = Session(
        pipeline, args.url, args.token,
        GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY, started,
    )
    pipeline.set_state(Gst.State.PLAYING)
    # Nothing answered within 30 s: give up rather than hang.
    GLib.timeout_add_seconds(30, lambda: session.location is not None or fail("no answer in 30 s"))
    loop.run()
    # End the session first: stopping the pipeline closes DTLS, and the SFU removes a peer
    # whose DTLS closed, so a DELETE after it would find no session.
    session.delete()
    pipeline.set_state(Gst.State.NULL)
    print("deleted", flush=True)
    exit(0)


if __name__ == "__main__":
    main()
