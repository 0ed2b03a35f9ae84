"""`volunteer-hub worker`: the notification dispatcher process."""
from __future__ import annotations

import logging

import click
from flask.cli import with_appcontext


def register(group) -> None:
    @group.command("worker")
    @click.option("--batch", type=int, default=None, help="Messages claimed at a time [200].")
    @click.option("--threads", type=int, default=None, help="Sending threads [8].")
    @click.option("--once", is_flag=True, help="Send everything due now, then exit.")
    @with_appcontext
    def worker_command(batch: int | None, threads: int | None, once: bool):
        """Send queued notifications (run several on PostgreSQL; one on SQLite)."""
        from flask import current_app

        from volunteer_hub.notify.dispatcher import Dispatcher

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        dispatcher = Dispatcher(current_app._get_current_object(), batch=batch, threads=threads)
        dispatcher.install_signal_handlers()
        try:
            if once:
                handled = dispatcher.drain()
                click.echo(f"Handled {handled} messages.")
            else:
                click.echo(f"Worker {dispatcher.worker_id} started (batch {dispatcher.batch}).")
                dispatcher.run_forever()
        finally:
            dispatcher.close()
