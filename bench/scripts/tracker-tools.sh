# Sourced by tracker-vs-opentracker.sh and tracker-memory.sh (ROOT and ART set): builds the tracker load generator (UDP and HTTP)
# into LOAD, the appliance into APPLIANCE (APPLIANCE_BIN if set, else a Release JIT build), and defines free_port, a
# loopback port free for both TCP and UDP (the embedded tracker and opentracker take both).
dotnet build "$ROOT/bench/Appliance.TrackerLoad" -c Release --artifacts-path "$ART" -v q -nologo >/dev/null
LOAD=(dotnet "$ART/bin/Appliance.TrackerLoad/release/Appliance.TrackerLoad.dll")
if [[ -n "${APPLIANCE_BIN:-}" ]]; then
  APPLIANCE=("$APPLIANCE_BIN")
else
  dotnet build "$ROOT/src/Appliance" -c Release --artifacts-path "$ART" -v q -nologo >/dev/null
  APPLIANCE=(dotnet "$ART/bin/Appliance/release/appliance.dll")
fi

free_port() { python3 -c 'import socket
for _ in range(50):
    t=socket.socket(); t.bind(("127.0.0.1",0)); p=t.getsockname()[1]
    u=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
    try: u.bind(("127.0.0.1",p)); print(p); break
    except OSError: pass
    finally: t.close(); u.close()'; }
