import asyncio, json
import nats

async def main():
    nc = await nats.connect("nats://127.0.0.1:4222")
    body = {"filters": {"first_name": {"contains": "jo"}}, "limit": 5}
    msg = await nc.request("rolodex.contacts.search", json.dumps(body).encode(), timeout=5,
                           headers={"Content-Type": "application/json"})
    if msg.headers and "Nats-Service-Error-Code" in msg.headers:
        print("error", msg.headers["Nats-Service-Error-Code"], json.loads(msg.data))
    else:
        for contact in json.loads(msg.data)["items"]:
            print(contact["first_name"], contact.get("last_name"), contact.get("email"))
    await nc.close()

asyncio.run(main())
