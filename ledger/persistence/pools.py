"""PostgreSQL pools bounded in time: the library's factory and datastore behind a `DatabaseGate`.

`library_env` names `LedgerPostgresFactory` as the persistence module, so every pool the
ledger opens through the library (command side, views, projection runners, replay tools)
is one of these:
* a request waits at most `LEDGER_DB_POOL_WAIT_S` for a free connection (psycopg_pool's
  `timeout`; the library's own key takes whole seconds only);
* a lost connection is re-tried in the background for at most `LEDGER_DB_RECONNECT_S`
  (psycopg_pool's `reconnect_timeout`, 300 s by default, with delays 1, 2, 4 ... 32 s), after
  which the pool reconnects on the next demand, so its schedule never delays recovery;
* every new connection gives up after `LEDGER_DB_CONNECT_TIMEOUT_S` (libpq's
  `connect_timeout`; the library passes none);
* `get_connection` asks the database's gate first (`ledger.persistence.gate`): while the
  database is away it raises `DatabaseUnavailable` at once.
Tests: tests/faults/test_gate.py, tests/faults/test_postgres_faults.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.postgres import PostgresDatastore, PostgresFactory
from eventsourcing.utils import Environment, EnvType
from psycopg import Connection
from psycopg.rows import DictRow

from ledger.persistence.gate import DatabaseGate, gate_for, is_connection_failure

POOL_WAIT_KEY = "LEDGER_POOL_WAIT_S"
RECONNECT_KEY = "LEDGER_RECONNECT_S"
CONNECT_TIMEOUT_KEY = "LEDGER_CONNECT_TIMEOUT_S"
DEFAULT_POOL_WAIT_S = 1.0
DEFAULT_RECONNECT_S = 2.0
DEFAULT_CONNECT_TIMEOUT_S = 2  # libpq's minimum


class GatedPostgresDatastore(PostgresDatastore):
    """The library's datastore, refusing at once while its database's gate is closed."""

    gate: DatabaseGate

    @contextmanager
    def get_connection(self) -> Iterator[Connection[DictRow]]:
        """A pooled connection; `DatabaseUnavailable` at once while the database is away."""
        self.gate.check()
        try:
            with super().get_connection() as conn:
                yield conn
        except (OperationalError, InterfaceError) as e:
            if is_connection_failure(e.__cause__ or e):
                self.gate.suspect(e)  # raises DatabaseUnavailable when the database is away
            raise


class LedgerPostgresFactory(PostgresFactory):
    """The library's PostgreSQL factory, its datastore gated and its pool bounded in time."""

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        library = self.datastore
        pool = library.pool
        kwargs = pool.kwargs
        assert isinstance(kwargs, dict)  # the library passes a dict
        datastore = GatedPostgresDatastore(
            dbname=kwargs["dbname"],
            host=kwargs["host"],
            port=kwargs["port"],
            user=kwargs["user"],
            password=kwargs["password"],
            connect_timeout=pool.timeout,
            idle_in_transaction_session_timeout=library.idle_in_transaction_session_timeout,
            pool_size=pool.min_size,
            max_overflow=pool.max_size - pool.min_size,
            max_waiting=pool.max_waiting,
            conn_max_age=pool.max_lifetime,
            pre_ping=library.pre_ping,
            lock_timeout=library.lock_timeout,
            schema=library.schema,
            pool_open_timeout=library.pool_open_timeout,
            get_password_func=pool.get_password_func,
            single_row_tracking=library.single_row_tracking,
            originator_id_type=library.originator_id_type,  # type: ignore[arg-type]
            enable_db_functions=library.enable_db_functions,
        )
        self._bound(datastore)
        self.datastore = datastore

    def _bound(self, datastore: GatedPostgresDatastore) -> None:
        """Set the pool's time bounds and join the database's gate."""
        connect_timeout = int(self._number(CONNECT_TIMEOUT_KEY, DEFAULT_CONNECT_TIMEOUT_S))
        pool = datastore.pool
        kwargs = pool.kwargs
        assert isinstance(kwargs, dict)  # the library passes a dict
        kwargs["connect_timeout"] = connect_timeout
        pool.timeout = self._number(POOL_WAIT_KEY, DEFAULT_POOL_WAIT_S)
        pool.reconnect_timeout = self._number(RECONNECT_KEY, DEFAULT_RECONNECT_S)
        datastore.gate = gate_for(
            {k: kwargs[k] for k in ("host", "port", "user", "password", "dbname")},
            connect_timeout_s=connect_timeout,
        )
        datastore.gate.register(pool)

    def _number(self, key: str, default: float) -> float:
        value = self.env.get(key)
        return float(value) if value else default
