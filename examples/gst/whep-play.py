#!/usr/bin/python3
"""Play a room from a WHEP endpoint with GStreamer's webrtcbin, counting decoded frames.

    whep-play.py --url http://HOST:PORT/whep/ROOM --token JWT [--frames N] [--seconds S]

The offer has one receive-only VP8 video and one Opus audio m-line. The script prints the
session URL on a line `location <URL>` once the answer is applied, then once a second
`video FRAMES WIDTHxHEIGHT audio BUFFERS` (decoded video frames and their size, decoded
audio buffers). When --frames video frames are decoded, or after --seconds, it ends the
session with DELETE, prints `deleted` and exits: 0 when it decoded --frames frames, 2 when
not. Any HTTP or pipeline error exits 1 with a message. The settings webrtcbin needs with
basic-sfu are in gst_session.py.

Needs Debian's python3-gst-1.0, gir1.2-gst-plugins-bad-1.0, gstreamer1.0-plugins-bad
(webrtcbin), -good (vp8dec), gstreamer1.0-nice and openssl.
"""

import argparse

from gst_session import GLib, Gst, GstWebRTC, Session, exit, fail

VIDEO_CAPS = (
    "application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000,"
    "rtcp-fb-nack=(boolean)true,rtcp-fb-nack-pli=(boolean)true,rtcp-fb-ccm-fir=(boolean)true"
)
AUDIO_CAPS = (
    "application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000,"
    "encoding-params=(string)2"
)
DECODE = {
    "video": "rtpvp8depay wait-for-keyframe=true request-keyframe=true ! vp8dec "
    "! videoconvert ! fakesink name=sink sync=false signal-handoffs=true",
    "audio": "rtpopusdepay ! opusdec ! fakesink name=sink sync=false signal-handoffs=true",
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--seconds", type=float, default=40.0)
    args = ap.parse_args()

    Gst.init(None)
    pipeline = Gst.Pipeline.new("whep-play")
    wb = Gst.ElementFactory.make("webrtcbin", "wb")
    if wb is None:
        fail("no webrtcbin (gstreamer1.0-plugins-bad)")
    wb.set_property("bundle-policy", GstWebRTC.WebRTCBundlePolicy.MAX_BUNDLE)
    pipeline.add(wb)
    recvonly = GstWebRTC.WebRTCRTPTransceiverDirection.RECVONLY
    wb.emit("add-transceiver", recvonly, Gst.Caps.from_string(VIDEO_CAPS))
    wb.emit("add-transceiver", recvonly, Gst.Caps.from_string(AUDIO_CAPS))
    loop = GLib.MainLoop()
    seen = {"video": 0, "audio": 0, "size": "0x0"}

    def on_video(_sink, _buffer, pad):
        seen["video"] += 1
        caps = pad.get_current_caps()
        if caps is not None:
            s = caps.get_structure(0)
            seen["size"] = f"{s.get_value('width')}x{s.get_value('height')}"
        if seen["video"] >= args.frames:
            loop.quit()

    def on_audio(_sink, _buffer, _pad):
        seen["audio"] += 1

    def on_pad(_wb, pad):
        if pad.get_direction() != Gst.PadDirection.SRC:
            return
        caps = pad.get_current_caps() or pad.query_caps(None)
        media = caps.get_structure(0).get_value("media")
        if media not in DECODE:
            fail(f"a stream of unexpected media {media!r}")
        decode = Gst.parse_bin_from_description(DECODE[media], True)
        sink = decode.get_by_name("sink")
        sink.connect("handoff", on_video if media == "video" else on_audio)
        pipeline.add(decode)
        decode.sync_state_with_parent()
        if pad.link(decode.get_static_pad("sink")) != Gst.PadLinkReturn.OK:
            fail(f"could not link the {media} stream to its decoder")

    def report():
        print(f"video {seen['video']} {seen['size']} audio {seen['audio']}", flush=True)
        return True

    def started(location):
        print(f"location {location}", flush=True)
        GLib.timeout_add_seconds(1, report)

    wb.connect("pad-added", on_pad)
    session = Session(pipeline, args.url, args.token, recvonly, started)
    pipeline.set_state(Gst.State.PLAYING)
    GLib.timeout_add(int(args.seconds * 1000), loop.quit)
    loop.run()
    report()
    if session.location is None:
        fail(f"no session within {args.seconds} s")
    # End the session before the pipeline: stopping it closes DTLS, and the SFU removes a
    # peer whose DTLS closed, so a DELETE after it would find no session.
    session.delete()
    pipeline.set_state(Gst.State.NULL)
    print("deleted", flush=True)
    exit(0 if seen["video"] >= args.frames else 2)


if __name__ == "__main__":
    main()
