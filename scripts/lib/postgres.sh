# A scratch PostgreSQL server for the benchmark scripts (sourced, not run): a socket in a folder of the caller's,
# no TCP, trust login as `feedwright`, fsync off. Needs PostgreSQL's server binaries (`apt-get install
# postgresql`) and psql. When run as root the server runs as the `postgres` user (initdb refuses root).
#
#   pg_start DIR      initdb into DIR/data and start; DIR is created (mode 755; the folders above it must be
#                     searchable by the postgres user)
#   pg_stop           stop it (immediate), safe to call twice or before pg_start
#   pg_sql SQL [DB]   run SQL (unaligned, tuples only, fields split by a space) in DB (default: postgres)
#   pg_url DB         the `state` URL of database DB on this server

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
pg_dir=

as_pg() { if [ "$(id -u)" = 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; else "$@"; fi; }

pg_start() {
  [ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] || { echo "needs PostgreSQL: apt-get install postgresql" >&2; exit 1; }
  pg_dir=$1
  mkdir -p "$pg_dir"
  chmod 755 "$pg_dir"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$pg_dir"
  as_pg "$pg_bin/initdb" -D "$pg_dir/data" -U feedwright --auth=trust >/dev/null
  as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
    -o "-k $pg_dir -c listen_addresses='' -c fsync=off -c max_connections=200" start >/dev/null
}

pg_stop() {
  if [ -n "$pg_dir" ] && [ -d "$pg_dir/data" ]; then
    as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  pg_dir=
}

pg_sql() { psql -qtA -F' ' -h "$pg_dir" -U feedwright -d "${2:-postgres}" -c "$1"; }

pg_url() { printf 'postgres://feedwright@%s/%s' "$(echo "$pg_dir" | sed 's|/|%2F|g')" "$1"; }
