"""The orders capability in one piece: the checkout, its recovery and recovery's schedule,
built from a unit of work and the ports (which the deployment's bootstrap chooses)."""
import time
from dataclasses import dataclass

from shop.orders.checkout import Checkout
from shop.orders.owners import Processes
from shop.orders.recovery import Recovery
from shop.orders.recovery_schedule import RecoverySchedule
from shop.orders.unit_of_work import UnitOfWork
from shop.ports import BillingPort, CartPort, CatalogPort, ShippingPort, TaxPort


@dataclass
class Orders:
    checkout: Checkout
    recovery: Recovery
    schedule: RecoverySchedule


def build(uow: UnitOfWork, *, cart: CartPort, catalog: CatalogPort, tax: TaxPort, shipping: ShippingPort,
          billing: BillingPort, recover_after: float = 60.0, recover_every: float = 5.0,
          dead_in_line: bool = False, gather=None, clock=time.time, background=None,
          processes=None) -> Orders:
    """``dead_in_line``: see ``RecoverySchedule``. ``clock``, ``background`` and ``processes``
    are for tests (a clock moved by hand, background work run when told, fake processes)."""
    processes = processes or Processes()
    recovery = Recovery(uow, catalog=catalog, billing=billing, recover_after=recover_after,
                        clock=clock, processes=processes)
    schedule = RecoverySchedule(recovery, every=recover_every, dead_in_line=dead_in_line, clock=clock,
                                background=background, processes=processes)
    checkout = Checkout(uow, cart=cart, catalog=catalog, tax=tax, shipping=shipping, billing=billing,
                        gather=gather, schedule=schedule, clock=clock, processes=processes)
    return Orders(checkout, recovery, schedule)
