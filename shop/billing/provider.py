"""The payment provider, simulated: it approves every valid card except two test numbers.

It stands for a third party reached over the network; the fault injection of later
scenarios (latency, failures) hooks in here, the same way in both deployments."""
from shop.errors import PaymentDeclined

DECLINES = {
    "4000000000000002": "The card was declined: card declined by the issuer.",
    "4000000000009995": "The card was declined: insufficient funds.",
}


class SimulatedProvider:
    def charge(self, card: dict, amount_cents: int) -> None:
        reason = DECLINES.get(card["card_number"])
        if reason:
            raise PaymentDeclined(reason)

    def refund(self, charge_id: int, amount_cents: int) -> None:
        pass
