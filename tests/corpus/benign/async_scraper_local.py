import asyncio, json
async def parse(path):
    await asyncio.sleep(0)
    with open(path) as f:
        return json.load(f)
async def main(paths):
    return await asyncio.gather(*(parse(p) for p in paths))
print(asyncio.run(main(["a.json", "b.json"])))