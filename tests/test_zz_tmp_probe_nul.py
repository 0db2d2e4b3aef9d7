import httpx
from hhc_devstack.system import ServiceProcesses


async def test_probe(shared_system: ServiceProcesses) -> None:
    async with httpx.AsyncClient(base_url=shared_system.public_url("intake"), timeout=10) as c:
        r = await c.post("/v1/report-status", json={"reference": "HHC-2026-\u0000", "status_code": "x"})
        print("PROBE api", r.status_code, r.text[:300])
        r = await c.post("/v1/report-status", json={"reference": "HHC-2026-000001", "status_code": "ab\u0000c"})
        print("PROBE api code", r.status_code, r.text[:300])
        page = await c.get("/status")
        print("PROBE page", page.status_code, page.headers.get("cache-control"))
        r = await c.post("/status", data={"reference": "HHC\x00", "status_code": "x"}, headers={"Origin": shared_system.public_url("intake")})
        print("PROBE form", r.status_code, r.text[:200].replace("\n", " "))
    log = (shared_system.log_dir / "intake.log").read_text()
    for line in log.splitlines():
        if "Traceback" in line or "error" in line.lower() and "ERROR" in line:
            print("LOG", line[:2000])
