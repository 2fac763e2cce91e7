import aiohttp, asyncio

async def main():
    async with aiohttp.ClientSession() as s:
        async with s.get('https://example.com') as r:
            print(await r.text())

asyncio.run(main())
