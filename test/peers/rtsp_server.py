#!/usr/bin/python3
"""RTSP test peer: GStreamer's RTSP server (python3-gi) on 127.0.0.1, serving a moving test pattern as H.264.

Usage: rtsp_server.py [--port N (0 = a free one)] [--width W] [--height H] [--fps F] [--path /cam]
Prints one JSON line {"port": N, "url": "..."} once it listens; runs until SIGTERM/SIGINT.
"""
import argparse
import json
import signal
import sys

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--port', type=int, default=0)
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--height', type=int, default=480)
    parser.add_argument('--fps', type=int, default=15)
    parser.add_argument('--path', default='/cam')
    args = parser.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address('127.0.0.1')
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    # is-live paces frames at the nominal rate; key-int keeps a new client's first frame close.
    factory.set_launch(
        f'( videotestsrc is-live=true pattern=ball ! video/x-raw,width={args.width},height={args.height},'
        f'framerate={args.fps}/1 ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={args.fps} '
        f'! rtph264pay name=pay0 pt=96 config-interval=1 )'
    )
    factory.set_shared(True)
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        print(f'rtsp_server.py: cannot listen on 127.0.0.1:{args.port}', file=sys.stderr)
        sys.exit(1)
    port = server.get_bound_port()
    print(json.dumps({'port': port, 'url': f'rtsp://127.0.0.1:{port}{args.path}'}), flush=True)

    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    loop.run()


if __name__ == '__main__':
    main()
