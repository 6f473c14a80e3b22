#!/bin/sh
# Entrypoint of obs-postgres:local (integration-tests/images/build.sh), the local stand-in
# for the official `postgres` image, which no registry here can provide. It does what the
# official docker-entrypoint.sh does with the variables a compose file sets:
#
#   POSTGRES_USER              superuser name (default postgres)
#   POSTGRES_PASSWORD          its password (optional)
#   POSTGRES_DB                database created at initialisation (default: the user's name)
#   POSTGRES_HOST_AUTH_METHOD  pg_hba.conf method for connections from other hosts (default
#                              scram-sha-256; without a password it must be `trust`)
#   POSTGRES_INITDB_ARGS       extra initdb arguments (split on spaces)
#   PGDATA                     data directory (default /var/lib/postgresql/data)
#
# and their *_FILE variants (the value read from a file, e.g. a compose secret). The data
# directory is initialised only when it holds no PG_VERSION; then the server runs in the
# foreground, listening on every interface and on the Unix socket in /var/run/postgresql
# (where pg_isready looks). `postgres -c x=y` (or just `-c x=y`) as the command passes the
# arguments on to the server; any other command runs instead of it.
#
# Unlike the official image: runs as the image's `postgres` user only (no root step), the
# database is created in single-user mode (no temporary server, so pg_isready fails until
# the real server is up), and /docker-entrypoint-initdb.d is not read. Locale C, UTF8.
set -eu

if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
	set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
	exec "$@"
fi
shift

# file_env VAR [DEFAULT]: VAR, or the contents of the file named by VAR_FILE, or DEFAULT.
file_env() {
	eval "fe_value=\${$1:-} fe_file=\${$1_FILE:-}"
	if [ -n "$fe_value" ] && [ -n "$fe_file" ]; then
		echo "error: both $1 and $1_FILE are set (they are exclusive)" >&2
		exit 1
	fi
	if [ -n "$fe_file" ]; then
		if [ ! -r "$fe_file" ]; then
			echo "error: $1_FILE names $fe_file, which cannot be read" >&2
			exit 1
		fi
		fe_value=
		IFS= read -r fe_value <"$fe_file" || true # a last line without a newline still counts
	fi
	[ -n "$fe_value" ] || fe_value="${2:-}"
	eval "$1=\$fe_value"
	unset "$1_FILE" 2>/dev/null || true
	export "$1"
}

# quote_ident NAME: NAME as an SQL identifier (double quotes, inner ones doubled).
quote_ident() {
	qi_rest=$1 qi_out=
	while :; do
		case $qi_rest in
		*\"*)
			qi_out="$qi_out${qi_rest%%\"*}\"\""
			qi_rest=${qi_rest#*\"}
			;;
		*) break ;;
		esac
	done
	printf '"%s"' "$qi_out$qi_rest"
}

init_database() {
	if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
		message='Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".

       You may also use "POSTGRES_HOST_AUTH_METHOD=trust" to allow all
       connections without a password. This is *not* recommended.'
		printf '%s\n' "$message" >&2
		exit 1
	fi
	# The official image takes the default from password_encryption: scram-sha-256.
	: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"

	# shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of words
	if [ -n "$POSTGRES_PASSWORD" ]; then
		printf '%s\n' "$POSTGRES_PASSWORD" |
			initdb --username="$POSTGRES_USER" --pwfile=/dev/stdin --no-locale --encoding=UTF8 \
				$POSTGRES_INITDB_ARGS
	else
		initdb --username="$POSTGRES_USER" --no-locale --encoding=UTF8 $POSTGRES_INITDB_ARGS
	fi

	{
		printf '\n'
		if [ "$POSTGRES_HOST_AUTH_METHOD" = trust ]; then
			printf '# warning trust is enabled for all connections\n'
		fi
		printf 'host all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD"
	} >>"$PGDATA/pg_hba.conf"

	if [ "$POSTGRES_DB" != postgres ]; then
		echo "creating database $POSTGRES_DB"
		printf 'CREATE DATABASE %s\n' "$(quote_ident "$POSTGRES_DB")" |
			postgres --single -D "$PGDATA" -c listen_addresses= postgres >/dev/null
	fi
	echo
	echo 'PostgreSQL init process complete; ready for start up.'
	echo
}

: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA
file_env POSTGRES_PASSWORD
file_env POSTGRES_USER postgres
file_env POSTGRES_DB "$POSTGRES_USER"
file_env POSTGRES_INITDB_ARGS
: "${POSTGRES_HOST_AUTH_METHOD:=}"

if [ -s "$PGDATA/PG_VERSION" ]; then
	echo
	echo 'PostgreSQL Database directory appears to contain a database; Skipping initialization'
	echo
else
	init_database
fi

exec postgres -D "$PGDATA" -c listen_addresses='*' -k /var/run/postgresql "$@"
