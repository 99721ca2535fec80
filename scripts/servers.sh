#!/usr/bin/env bash
# Real servers for the receiver integration tests, on 127.0.0.1 and non-default ports so they
# never clash with a system instance (or with Debian's own service, should a package start one).
#
#   scripts/servers.sh start [NAME...]   # default: all of postgres mariadb redis nginx dnsmasq
#   scripts/servers.sh stop  [NAME...]
#   scripts/servers.sh env               # export lines for the tests: eval "$(scripts/servers.sh env)"
#
# Every server keeps its state, pid and log under $D, never under /etc or /var, so the system
# configuration is irrelevant and `rm -rf $D` is a full reset. Needs root (apt-get, runuser).
set -euo pipefail

D=/tmp/ferrotel-servers
PASS=otelpass
ALL=(postgres mariadb redis nginx dnsmasq)
PG_BIN=/usr/lib/postgresql/15/bin
P=$D/pg M=$D/my N=$D/nginx

# Packages per server, including the clients this script itself uses to check readiness, since a
# fresh Debian image has neither curl nor python3. dnsmasq-base is the binary without the service
# package, whose postinst would try to start a system dnsmasq on port 53.
declare -A PKGS=(
    [postgres]="postgresql-15 postgresql-contrib"
    [mariadb]="mariadb-server mariadb-client"
    [redis]="redis-server redis-tools"
    [nginx]="nginx wrk curl"
    [dnsmasq]="dnsmasq-base python3"
)

say() { echo "servers: $*"; }
die() { echo "servers: error: $*" >&2; exit 1; }

# Shows the tail of a server's log and aborts: a bare "timed out" is useless in CI output.
fail() {
    echo "servers: error: $1" >&2
    if [[ -f $2 ]]; then echo "--- last lines of $2:" >&2; tail -n 30 "$2" >&2; fi
    exit 1
}

# wait_for SECONDS LOG DESCRIPTION CMD...: polls CMD every 0.2 s until it succeeds. CMD exiting 2
# means the server died, so there is no point waiting out the rest. Each probe must bound itself
# (timeout, -m, settimeout): something else holding the port may accept and never answer.
wait_for() {
    local secs=$1 log=$2 what=$3 rc; shift 3
    local end=$((SECONDS + secs))
    while true; do
        "$@" >/dev/null 2>&1 && return 0 || rc=$?
        ((rc != 2)) || fail "$what: the server exited" "$log"
        ((SECONDS < end)) || fail "$what: not ready after ${secs}s" "$log"
        sleep 0.2
    done
}

# After a probe succeeded: the answer may have come from a stranger on our port, not our server.
ours() { pid_alive "$2" || fail "$1: our process is gone; is another server on its port?" "$3"; }

# A pid file alone proves nothing after a crash or reboot; the process must exist too.
pid_alive() { local pid; pid=$(cat "$1" 2>/dev/null) && [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; }
pid_gone() { ! kill -0 "$1" 2>/dev/null; }

# stop_pid NAME PIDFILE [STOP-CMD...]: runs STOP-CMD (default: SIGTERM, a clean shutdown for all of
# these) and waits for the pid read beforehand, not the file: servers delete it before they exit.
stop_pid() {
    local name=$1 file=$2 pid; shift 2
    pid=$(cat "$file" 2>/dev/null) || true
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        "${@:-kill}" "$pid" >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
        wait_for 60 /dev/null "$name: pid $pid still running 60s after stop" pid_gone "$pid"
        say "$name stopped"
    fi
    rm -f "$file"
}

# One apt-get install for every missing package: each apt-get run costs seconds of dpkg locking and
# index reading, and `update` (only needed when something is missing) costs far more.
install_missing() {
    local name pkg missing=()
    for name in "$@"; do
        for pkg in ${PKGS[$name]}; do
            dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
        done
    done
    ((${#missing[@]})) || return 0
    say "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ---- postgres -------------------------------------------------------------------------------------
pg_ctl() { runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$P/data" "$@"; }
pg_up() { [[ -f $P/data/PG_VERSION ]] && pg_ctl status >/dev/null 2>&1; }
pg_sql() { PGCONNECT_TIMEOUT=10 PGPASSWORD=$PASS PGOPTIONS='-c client_min_messages=warning' psql -h 127.0.0.1 -p 15432 -U postgres -d postgres -qAtX -v ON_ERROR_STOP=1 "$@"; }

start_postgres() {
    if pg_up; then say "postgres already running"; return; fi
    # The marker is written last, so a half-finished initdb (killed, disk full) is redone instead of
    # making every later start fail on a broken cluster.
    if [[ ! -f $P/initialised ]]; then
        rm -rf "$P"; mkdir -p "$P"
        printf '%s\n' "$PASS" > "$P/pw"; chmod 600 "$P/pw"
        chown -R postgres:postgres "$P"   # initdb runs as postgres and must create $P/data
        runuser -u postgres -- "$PG_BIN/initdb" -D "$P/data" -U postgres --auth=scram-sha-256 \
            --pwfile="$P/pw" >"$P/initdb.log" 2>&1 || fail "postgres: initdb failed" "$P/initdb.log"
        # Later settings win in postgresql.conf, so appending overrides initdb's defaults.
        cat >> "$P/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = 15432
unix_socket_directories = '$P'
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
track_io_timing = on
EOF
        touch "$P/initialised"
    fi
    pg_ctl -l "$P/log" -w -t 60 start >/dev/null 2>&1 || fail "postgres: pg_ctl start failed" "$P/log"
    # The library is preloaded, but its views exist only in databases that created the extension.
    pg_sql -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" || fail "postgres: CREATE EXTENSION failed" "$P/log"
    say "postgres listening on 127.0.0.1:15432 (user postgres, password $PASS, pg_stat_statements)"
}
stop_postgres() {
    if pg_up; then
        pg_ctl stop -m fast -w -t 60 >/dev/null || fail "postgres: pg_ctl stop failed" "$P/log"
        say "postgres stopped"
    fi
}

# ---- mariadb --------------------------------------------------------------------------------------
# ping exits 0 even on "access denied", so it also works once the password is set.
my_ping() {
    kill -0 "$my_pid" 2>/dev/null || return 2
    timeout 5 mariadb-admin --no-defaults -h127.0.0.1 -P13306 -uroot --connect-timeout=2 ping
}
start_mariadb() {
    if pid_alive "$M/pid"; then say "mariadb already running"; return; fi
    if [[ ! -f $M/initialised ]]; then
        rm -rf "$M"; mkdir -p "$M/data"; chown -R mysql:mysql "$M"
        mariadb-install-db --no-defaults --user=mysql --datadir="$M/data" \
            --auth-root-authentication-method=normal --skip-test-db >"$M/install.log" 2>&1 \
            || fail "mariadb: mariadb-install-db failed" "$M/install.log"
        touch "$M/initialised"
    fi
    # setsid + nohup: the server must outlive this script and the terminal or CI step that ran it.
    # A background job of a script is no group leader, so setsid execs in place: $! is mariadbd.
    setsid nohup /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$M/data" --socket="$M/s.sock" \
        --port=13306 --bind-address=127.0.0.1 --pid-file="$M/pid" --log-error="$M/err.log" \
        --performance_schema=ON --skip-name-resolve >"$M/stdout.log" 2>&1 </dev/null &
    my_pid=$!
    wait_for 60 "$M/err.log" "mariadb: ping on 127.0.0.1:13306" my_ping
    # Fresh install-db accounts have no password. Set it once, over the socket (which matches
    # root@localhost whatever exists for TCP), and create root@127.0.0.1 because with
    # --skip-name-resolve a TCP client from 127.0.0.1 never matches 'localhost'.
    if ! mariadb --no-defaults -h127.0.0.1 -P13306 -uroot -p"$PASS" -e 'SELECT 1' >/dev/null 2>&1; then
        mariadb --no-defaults -S "$M/s.sock" -uroot <<EOF || fail "mariadb: setting the root password failed" "$M/err.log"
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '$PASS';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
ALTER USER 'root'@'localhost' IDENTIFIED BY '$PASS'; FLUSH PRIVILEGES;
EOF
    fi
    say "mariadb listening on 127.0.0.1:13306 (user root, password $PASS, performance_schema on)"
}
stop_mariadb() { stop_pid mariadb "$M/pid"; }

# ---- redis ----------------------------------------------------------------------------------------
redis_shutdown() { timeout 10 redis-cli -h 127.0.0.1 -p 16379 shutdown nosave; }   # ignores pid arg
redis_pong() { [[ $(timeout 2 redis-cli -h 127.0.0.1 -p 16379 ping 2>/dev/null) == PONG ]]; }

start_redis() {
    if pid_alive "$D/redis.pid"; then say "redis already running"; return; fi
    mkdir -p "$D"
    # --save '' and no AOF: tests want a blank server, and nothing on disk to outlive it.
    redis-server --port 16379 --bind 127.0.0.1 --daemonize yes --save '' --appendonly no \
        --pidfile "$D/redis.pid" --dir "$D" --logfile "$D/redis.log" >/dev/null \
        || fail "redis: redis-server failed" "$D/redis.log"
    wait_for 30 "$D/redis.log" "redis: ping on 127.0.0.1:16379" redis_pong
    ours redis "$D/redis.pid" "$D/redis.log"
    say "redis listening on 127.0.0.1:16379 (no auth)"
}
stop_redis() { stop_pid redis "$D/redis.pid" redis_shutdown; }

# ---- nginx ----------------------------------------------------------------------------------------
# -e: nginx opens its error log before reading the config; this keeps it out of /var/log too.
nginx_cmd() { nginx -c "$N/nginx.conf" -p "$N" -e "$N/error.log" "$@"; }
nginx_stop() { nginx_cmd -s stop; }   # ignores stop_pid's pid arg

start_nginx() {
    if pid_alive "$N/nginx.pid"; then say "nginx already running"; return; fi
    mkdir -p "$N/www" "$N/tmp"
    # Rewritten on every start so that edits here take effect without a manual reset.
    # user www-data: the compiled-in default "nobody nobody" fails, Debian has no group nobody.
    cat > "$N/nginx.conf" <<EOF
daemon on; user www-data; worker_processes 1;
pid $N/nginx.pid; error_log $N/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $N/tmp/body; proxy_temp_path $N/tmp/proxy; fastcgi_temp_path $N/tmp/fcgi;
    uwsgi_temp_path $N/tmp/uwsgi; scgi_temp_path $N/tmp/scgi;
    types { text/html html; } default_type application/octet-stream;
    server {
        listen 127.0.0.1:18080; root $N/www; index index.html;
        location = /status404 { return 404; }
    }
    # HTTP/2 without TLS (h2c, prior knowledge), for the L7 HTTP/2 test
    server {
        listen 127.0.0.1:18082 http2; root $N/www; index index.html;
        location = /status404 { return 404; }
    }
}
EOF
    # ~600 bytes: a realistic small static page for wrk benchmarks of the HTTP check receiver.
    printf '%s\n' '<!DOCTYPE html><html><head><title>ferrotel test page</title></head><body>' \
        '<h1>ferrotel integration test server</h1>' \
        "<p>Paragraph "{1..6}": static content served by nginx for HTTP checks and load tests.</p>" \
        '</body></html>' > "$N/www/index.html"
    chmod -R a+rX "$N/www"
    nginx_cmd -q -t || fail "nginx: invalid config $N/nginx.conf" "$N/error.log"
    nginx_cmd || fail "nginx: start failed" "$N/error.log"
    wait_for 30 "$N/error.log" "nginx: GET http://127.0.0.1:18080/" curl -fsS -m 2 -o /dev/null http://127.0.0.1:18080/
    ours nginx "$N/nginx.pid" "$N/error.log"
    say "nginx listening on http://127.0.0.1:18080/ and h2c on :18082 (index.html $(wc -c < "$N/www/index.html") bytes, /status404 -> 404)"
}
stop_nginx() { stop_pid nginx "$N/nginx.pid" nginx_stop; }

# ---- dnsmasq --------------------------------------------------------------------------------------
# dns_a NAME: prints "RCODE ADDR..." for an A query to 127.0.0.1:15353; raw UDP so no dig needed.
dns_a() {
    python3 - "$1" <<'PY'
import socket, struct, sys
q = struct.pack(">HHHHHH", 0x4654, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in sys.argv[1].split(".")) + b"\0" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
s.sendto(q, ("127.0.0.1", 15353)); r = s.recv(512)
an = struct.unpack(">H", r[6:8])[0]; i = len(q); ips = []
for _ in range(an):   # answers use a 2-byte name pointer, then type, class, ttl, rdlength
    typ, _c, _t, n = struct.unpack(">HHIH", r[i + 2:i + 12]); i += 12
    if typ == 1: ips.append(socket.inet_ntoa(r[i:i + n]))
    i += n
print(["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"][r[3] & 15], *ips)
PY
}
dns_ready() { [[ $(dns_a foo.ferrotel-test.example) == "NOERROR 127.0.0.77" ]]; }

start_dnsmasq() {
    if pid_alive "$D/dnsmasq.pid"; then say "dnsmasq already running"; return; fi
    mkdir -p "$D"
    # --conf-file=/dev/null ignores /etc/dnsmasq.conf. With no upstream, --address=/#/ gives every
    # other name a fast NXDOMAIN instead of a timeout. --local: since 2.86 a non-A query for the test
    # names would fall through to /#/ and get NXDOMAIN; --local answers NOERROR with no records.
    # dnsmasq daemonises by default (--keep-in-foreground is a flag, not =no), so no setsid.
    dnsmasq --conf-file=/dev/null --port=15353 --listen-address=127.0.0.1 --bind-interfaces \
        --no-resolv --no-hosts --pid-file="$D/dnsmasq.pid" --user=root --log-facility="$D/dnsmasq.log" \
        --address=/ferrotel-test.example/127.0.0.77 --local=/ferrotel-test.example/ --address=/#/ 2>>"$D/dnsmasq.log" \
        || fail "dnsmasq: start failed" "$D/dnsmasq.log"
    wait_for 30 "$D/dnsmasq.log" "dnsmasq: A foo.ferrotel-test.example on 127.0.0.1:15353" dns_ready
    ours dnsmasq "$D/dnsmasq.pid" "$D/dnsmasq.log"
    say "dnsmasq listening on 127.0.0.1:15353 udp+tcp (*.ferrotel-test.example A 127.0.0.77, else NXDOMAIN)"
}
stop_dnsmasq() { stop_pid dnsmasq "$D/dnsmasq.pid"; }

# ---- main -----------------------------------------------------------------------------------------
print_env() {
    cat <<EOF
export FERROTEL_SERVERS_DIR=$D
export FERROTEL_PG_HOST=127.0.0.1 FERROTEL_PG_PORT=15432 FERROTEL_PG_USER=postgres FERROTEL_PG_PASSWORD=$PASS
export FERROTEL_MYSQL_HOST=127.0.0.1 FERROTEL_MYSQL_PORT=13306 FERROTEL_MYSQL_USER=root FERROTEL_MYSQL_PASSWORD=$PASS
export FERROTEL_REDIS_HOST=127.0.0.1 FERROTEL_REDIS_PORT=16379
export FERROTEL_NGINX_URL=http://127.0.0.1:18080/ FERROTEL_NGINX_404_URL=http://127.0.0.1:18080/status404 FERROTEL_NGINX_H2C_PORT=18082
export FERROTEL_DNS_SERVER=127.0.0.1:15353 FERROTEL_DNS_NAME=foo.ferrotel-test.example FERROTEL_DNS_ADDR=127.0.0.77
EOF
}

cmd=${1:-}; shift || true
names=("$@"); ((${#names[@]})) || names=("${ALL[@]}")
for n in "${names[@]}"; do [[ -n ${PKGS[$n]:-} ]] || die "unknown server '$n' (known: ${ALL[*]})"; done
case $cmd in
    start) [[ $EUID -eq 0 ]] || die "start needs root (apt-get, runuser, chown)"
        install_missing "${names[@]}"
        mkdir -p "$D"; chmod 755 "$D"   # postgres, mysql and www-data must traverse it
        for n in "${names[@]}"; do "start_$n"; done ;;
    # Each stop_* first checks for a live process, so stopping what never started is a quiet no-op.
    stop) for n in "${names[@]}"; do "stop_$n"; done ;;
    env) print_env ;;
    *) die "usage: $0 start|stop [NAME...] | env   (NAME: ${ALL[*]})" ;;
esac
