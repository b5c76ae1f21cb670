import asyncio

import pytest

import zipc


def test_async_send_recv_with_backpressure(make_pair):
    prod, cons = make_pair(capacity=1024)  # tiny ring: both sides must wait
    n = 300

    async def produce():
        for i in range(n):
            await prod.send_async(i.to_bytes(4, "little") * 30, type_id=i)
        prod.close()

    async def consume():
        got = []
        async for msg in cons:
            got.append(msg.type_id)
            if len(got) % 50 == 0:
                await asyncio.sleep(0.001)  # let the producer fill up
        return got

    async def main():
        got, _ = await asyncio.gather(consume(), produce())
        return got

    assert asyncio.run(asyncio.wait_for(main(), 10)) == list(range(n))


def test_async_timeout_and_objects(pair):
    prod, cons = pair

    async def main():
        with pytest.raises(zipc.Timeout):
            await cons.recv_async(timeout=0.05)
        await prod.send_object_async({"k": [1, 2]})
        assert await cons.recv_object_async(timeout=1) == {"k": [1, 2]}
        asyncio.get_running_loop().call_later(0.05, prod.send, b"later")
        assert (await cons.recv_async(timeout=2)).data == b"later"
        await prod.send_async(b"x")
        assert await cons.recv_many_async() == [(0, b"x")]

    asyncio.run(main())
