import asyncio

async def go():
    loop = asyncio.get_running_loop()
    transport, proto = await loop.subprocess_exec(asyncio.SubprocessProtocol, "id")

asyncio.run(go())
