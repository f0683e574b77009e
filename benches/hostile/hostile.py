#!/usr/bin/env python3
"""Misbehaving clients for the hostile-load benchmark (benches/hostile/run.sh): loopback only, bounded.

  idle       connections that send one ApiVersions, read the answer and then stay silent
  slow       connections that send Metadata requests one byte every --slow-byte-ms, read each answer, repeat
  fetchers   connections that pipeline --pipeline Fetch requests (max 50 MiB each, from offset 0 of
             --topic) and never read a byte of the responses

Standard library only (asyncio, raw Kafka frames). Prints "ready" once every connection is established
and has made its first request, then holds them until SIGTERM/SIGINT or --hold-s seconds.
"""

import argparse
import asyncio
import signal
import struct
import sys

CLIENT_ID = b"weir-hostile"


def frame(api_key: int, version: int, correlation_id: int, body: bytes) -> bytes:
    """A request frame with a v1 request header (non-flexible: the versions used here are all v1-header)."""
    header = struct.pack(">hhih", api_key, version, correlation_id, len(CLIENT_ID)) + CLIENT_ID
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def api_versions(correlation_id: int) -> bytes:
    return frame(18, 0, correlation_id, b"")


def metadata_all_topics(correlation_id: int) -> bytes:
    # Metadata v1: topics = null (all topics).
    return frame(3, 1, correlation_id, struct.pack(">i", -1))


def fetch(correlation_id: int, topic: str, max_bytes: int) -> bytes:
    # Fetch v4: replica_id, max_wait_ms, min_bytes, max_bytes, isolation_level, [topic [partition]].
    name = topic.encode()
    body = struct.pack(">iiiib", -1, 0, 1, max_bytes, 0)
    body += struct.pack(">i", 1) + struct.pack(">h", len(name)) + name
    body += struct.pack(">i", 1) + struct.pack(">iqi", 0, 0, max_bytes)
    return frame(1, 4, correlation_id, body)


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    (n,) = struct.unpack(">i", await reader.readexactly(4))
    return await reader.readexactly(n)


async def idle(host: str, port: int, held: list) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(api_versions(1))
    await writer.drain()
    await read_frame(reader)
    held.append(writer)


async def slow(host: str, port: int, byte_ms: int, stop: asyncio.Event, counts: dict) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    correlation_id = 0
    while not stop.is_set():
        correlation_id += 1
        for b in metadata_all_topics(correlation_id):
            writer.write(bytes([b]))
            await writer.drain()
            await asyncio.sleep(byte_ms / 1000)
        await read_frame(reader)
        counts["slow_answers"] += 1
    writer.close()


async def fetcher(host: str, port: int, topic: str, pipeline: int, held: list) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    # Keep the client's receive buffer small so the broker meets a full socket early.
    sock = writer.get_extra_info("socket")
    if sock is not None:
        import socket

        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    data = b"".join(fetch(i, topic, 50 << 20) for i in range(pipeline))
    writer.write(data)
    held.append((reader, writer))
    # The broker stops reading this connection once its responses are not consumed: the rest of the
    # requests sit in socket buffers, which is the point. Never await the drain.


async def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap", default="127.0.0.1:9092")
    p.add_argument("--idle", type=int, default=5000)
    p.add_argument("--slow", type=int, default=50)
    p.add_argument("--slow-byte-ms", type=int, default=100)
    p.add_argument("--fetchers", type=int, default=50)
    p.add_argument("--pipeline", type=int, default=200)
    p.add_argument("--topic", default="hostile-big")
    p.add_argument("--hold-s", type=float, default=3600)
    a = p.parse_args()
    host, port = a.bootstrap.rsplit(":", 1)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print("hostile.py: loopback only", file=sys.stderr)
        return 2
    port = int(port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    held: list = []
    fetch_held: list = []
    counts = {"slow_answers": 0}
    # Idle connections in chunks, so the listen backlog is not the thing being tested.
    for start in range(0, a.idle, 250):
        await asyncio.gather(*(idle(host, port, held) for _ in range(start, min(a.idle, start + 250))))
    for _ in range(a.fetchers):
        await fetcher(host, port, a.topic, a.pipeline, fetch_held)
    slow_tasks = [asyncio.create_task(slow(host, port, a.slow_byte_ms, stop, counts)) for _ in range(a.slow)]
    print(f"ready: {len(held)} idle, {a.slow} slow writers, {len(fetch_held)} never-reading fetchers", flush=True)
    try:
        await asyncio.wait_for(stop.wait(), timeout=a.hold_s)
    except asyncio.TimeoutError:
        pass
    stop.set()
    for t in slow_tasks:
        t.cancel()
    print(f"done: slow writers got {counts['slow_answers']} answers", flush=True)
    for w in held:
        w.close()
    for _, w in fetch_held:
        w.transport.abort()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
