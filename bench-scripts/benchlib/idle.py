#!/usr/bin/env python3
"""Idle-connection client and server for the RSS-per-connection measurement.

server: accepts connections, reads one byte, answers one byte, then holds the connection until
        the peer closes it.
client: opens COUNT connections to PORT (through the relay), on each sends one byte and waits for
        the one-byte answer -- so both halves of every relayed connection exist and the relay
        really relayed -- then prints "READY <count>" and holds everything until a line or EOF
        arrives on stdin; then closes all and prints "DONE".
"""
import argparse
import asyncio
import resource
import sys


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def serve(port):
    live = set()

    async def handle(reader, writer):
        live.add(writer)
        try:
            b = await reader.read(1)
            if b:
                writer.write(b"s")
                await writer.drain()
                while await reader.read(65536):
                    pass
        except (ConnectionError, OSError):
            pass
        finally:
            live.discard(writer)
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096, reuse_address=True)
    async with server:
        await server.serve_forever()


async def client(port, count, parallel, timeout):
    writers = []
    sem = asyncio.Semaphore(parallel)
    failures = []

    async def one():
        async with sem:
            try:
                r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
                w.write(b"c")
                await w.drain()
                b = await asyncio.wait_for(r.readexactly(1), timeout)
                if b != b"s":
                    raise ConnectionError(f"unexpected answer {b!r}")
                writers.append(w)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
                failures.append(f"{type(e).__name__}: {e}")

    await asyncio.gather(*(one() for _ in range(count)))
    if failures:
        print(f"FAIL established={len(writers)} of {count}; first error: {failures[0]}", flush=True)
        for w in writers:
            w.close()
        return 1
    print(f"READY {len(writers)}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)
    for w in writers:
        w.close()
    await asyncio.sleep(0.2)
    print("DONE", flush=True)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["server", "client"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--parallel", type=int, default=64, help="connects in flight at once")
    ap.add_argument("--timeout", type=float, default=10.0, help="per connection, seconds")
    a = ap.parse_args()
    raise_nofile()
    try:
        if a.mode == "server":
            asyncio.run(serve(a.port))
        else:
            sys.exit(asyncio.run(client(a.port, a.count, a.parallel, a.timeout)))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
