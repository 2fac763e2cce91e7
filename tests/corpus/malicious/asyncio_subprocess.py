import asyncio

async def main():
    proc = await asyncio.create_subprocess_shell("cat /etc/os-release", stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    print(out.decode())

asyncio.run(main())
