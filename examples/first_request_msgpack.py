import asyncio
import msgpack, nats, zstandard

async def main():
    nc = await nats.connect("nats://127.0.0.1:4222")
    body = zstandard.compress(msgpack.packb({"filters": {"first_name": {"contains": "jo"}}}))
    msg = await nc.request("rolodex.contacts.search", body, timeout=5, headers={
        "Content-Type": "application/msgpack", "Content-Encoding": "zstd", "Accept-Encoding": "zstd"})
    data = msg.data
    if (msg.headers or {}).get("Content-Encoding") == "zstd":
        data = zstandard.ZstdDecompressor().decompress(data, max_output_size=64 << 20)
    print(msgpack.unpackb(data)["items"][0]["first_name"])
    await nc.close()

asyncio.run(main())
