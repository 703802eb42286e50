#!/usr/bin/env bash
# Runs a throwaway PostgreSQL server for the tests: a new cluster in a
# temporary directory, listening on 127.0.0.1 on a free port, with one
# database owned by a role whose password is generated here.
#
#   scripts/test-postgres.sh start DIR         creates the cluster in DIR
#                                               (new or empty), starts it and
#                                               writes DIR/env
#   scripts/test-postgres.sh stop DIR          stops the server, removes DIR
#   scripts/test-postgres.sh server-stop DIR   stops the server, keeps the data
#   scripts/test-postgres.sh server-start DIR  starts it again on its port
#
# DIR/env contains an `export` line for PAYMENTO_BRIDGE_TEST_POSTGRES_URL,
# the store URL with its password, which the PostgreSQL tests read. The server runs as the `postgres` user
# when this script runs as root, since PostgreSQL refuses to run as root,
# and as the calling user otherwise.
set -euo pipefail

usage() {
  echo "usage: $0 start|stop|server-stop|server-start DIR" >&2
  exit 2
}

[[ $# -eq 2 ]] || usage
command=$1
dir=$2
repository=$(cd "$(dirname "$0")/.." && pwd)

# Debian installs each major version under /usr/lib/postgresql/VERSION/bin.
find_bin_dir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

bin_dir=$(find_bin_dir)
if [[ -z $bin_dir || ! -x $bin_dir/initdb ]]; then
  "$repository/scripts/install-deps.sh"
  bin_dir=$(find_bin_dir)
fi
if [[ -z $bin_dir || ! -x $bin_dir/initdb ]]; then
  echo "test-postgres: initdb not found under /usr/lib/postgresql" >&2
  exit 1
fi

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

server_start() {
  as_owner "$bin_dir/pg_ctl" --pgdata="$dir/data" --log="$dir/server.log" \
    --wait --silent start
}

server_stop() {
  if [[ -f $dir/data/postmaster.pid ]]; then
    as_owner "$bin_dir/pg_ctl" --pgdata="$dir/data" --mode=fast --wait \
      --silent stop
  fi
}

start() {
  mkdir -p "$dir"
  if [[ -n $(ls -A "$dir") ]]; then
    echo "test-postgres: $dir is not empty" >&2
    exit 1
  fi
  mkdir "$dir/data" "$dir/socket"
  touch "$dir/server.log"
  if [[ $(id -u) -eq 0 ]]; then
    # The server's user must reach its files inside the directory.
    chmod 711 "$dir"
    chown postgres: "$dir/data" "$dir/socket" "$dir/server.log"
  fi

  as_owner "$bin_dir/initdb" --pgdata="$dir/data" --username=postgres \
    --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 \
    --no-instructions >/dev/null

  local port
  port=$(free_port)
  as_owner tee -a "$dir/data/postgresql.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir/socket'
EOF
  server_start

  local password
  password=$(openssl rand -hex 16)
  as_owner "$bin_dir/psql" --host="$dir/socket" --port="$port" \
    --username=postgres --dbname=postgres --quiet --no-psqlrc \
    --set=ON_ERROR_STOP=1 --set=password="$password" >/dev/null <<'EOF'
CREATE ROLE bridge_test LOGIN PASSWORD :'password';
CREATE DATABASE bridge_test OWNER bridge_test;
EOF

  cat >"$dir/env" <<EOF
export PAYMENTO_BRIDGE_TEST_POSTGRES_URL='postgres://bridge_test:$password@127.0.0.1:$port/bridge_test'
EOF
  chmod 600 "$dir/env"
  echo "test-postgres: server on 127.0.0.1:$port, settings in $dir/env"
}

stop() {
  server_stop
  rm -rf "$dir"
}

case $command in
  start) start ;;
  stop) stop ;;
  server-stop) server_stop ;;
  server-start) server_start ;;
  *) usage ;;
esac
