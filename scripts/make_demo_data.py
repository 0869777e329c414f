"""Write skgloss/data/support_tickets.jsonl, the small built-in demo set.

Every text is composed here from phrases written for skgloss (no external
source; CC0). Four classes of customer-support messages. The phrases of each
class are split in two disjoint halves: "train" rows are built only from the
first half and "test" rows only from the second, so the demo's held-out
accuracy measures generalisation to unseen wording, not memorised phrases.

Run from the repository root: ``python scripts/make_demo_data.py``. The
output is deterministic (seed 0); tests check that the shipped file matches.
"""

import json
import random
from pathlib import Path

OPENERS = [
    "Hi,", "Hello team,", "Good morning.", "Hey there,", "Dear support,", "Quick question:",
    "Hi again,", "Hello,", "Urgent:", "Not sure who to ask, but", "Sorry to bother you,", "",
]
CLOSERS = [
    "Thanks.", "Please help.", "Can you look into it?", "Any idea what is going on?",
    "I need this sorted today.", "Thank you in advance.", "Cheers.", "Let me know.",
    "This is the second time I write.", "", "Regards.", "Appreciate it.",
]
CLAUSES = {
    "billing": [
        "I was charged twice for the same order",
        "my invoice shows a price higher than the one on your website",
        "the refund you promised never reached my card",
        "you billed me after I cancelled my subscription",
        "I cannot find the VAT number on my receipt",
        "my credit card was declined although it has enough funds",
        "the discount code was not applied at checkout",
        "there is an unknown fee on my monthly statement",
        "I want to switch from monthly to yearly payment",
        "please send me a corrected invoice for last quarter",
        "the payment went through but the order says unpaid",
        "I was promised store credit instead of a refund and never got it",
        "why did my plan price go up without notice",
        "the bank shows a pending charge from you that I do not recognise",
        "I paid by bank transfer and it is still not confirmed",
        "can I get my money back for the unused months",
        "the total on the invoice does not match what my card was debited",
        "my company needs invoices addressed to a different billing entity",
        "the trial converted to a paid plan without warning",
        "I see a currency conversion charge I did not expect",
    ],
    "delivery": [
        "my parcel has not arrived after two weeks",
        "the tracking number does not work on the courier website",
        "the package was left at the wrong address",
        "the box arrived damaged and the item is broken",
        "the delivery date keeps moving back",
        "the courier says the parcel was delivered but nothing is here",
        "only half of my order arrived",
        "I need to change the shipping address before it ships",
        "the driver never rang the bell and took the parcel back",
        "can you send it by express instead of standard shipping",
        "customs is holding my package and asking for fees",
        "I received someone else's order in my box",
        "the parcel is stuck at the sorting centre for days",
        "the item I received is a different colour from the one I ordered",
        "my order shows shipped but the tracking has not updated in a week",
        "the pickup point closed and my package is lost",
        "I was not home and do not know how to rebook the delivery",
        "the estimated arrival was yesterday and there is no news",
        "the return label you sent is for the wrong carrier",
        "the packaging was opened before it reached me",
    ],
    "technical": [
        "the app crashes every time I open the settings page",
        "I get an error 500 when I upload a file",
        "the website will not load on my phone browser",
        "the sync between my laptop and tablet stopped working",
        "after the latest update the program freezes on start",
        "notifications do not show up anymore",
        "the export to PDF produces an empty document",
        "the search returns no results even for exact names",
        "the page is very slow and times out",
        "the integration with my calendar throws an authentication error",
        "the dark mode makes the buttons invisible",
        "video playback stutters and then stops",
        "the installer fails with a missing library message",
        "my changes are not saved when I close the editor",
        "the API returns a timeout for every request since this morning",
        "the printer option is greyed out in the menu",
        "the app drains my battery in the background",
        "images fail to load and show a broken icon",
        "the keyboard shortcuts stopped responding",
        "the desktop client shows a blank white window",
    ],
    "account": [
        "I forgot my password and the reset email never comes",
        "I want to delete my account and all my data",
        "someone logged into my account from another country",
        "I cannot change the email address on my profile",
        "my account was locked after too many login attempts",
        "please merge my two accounts into one",
        "the two factor code is not accepted",
        "I need to add a colleague as an administrator",
        "how do I change the name shown on my profile",
        "I no longer have access to the phone number used for verification",
        "my username was changed without my permission",
        "I want to download a copy of my personal data",
        "the verification link in the sign up email has expired",
        "I would like to transfer ownership of the workspace",
        "my login with the company single sign on fails",
        "I want to unsubscribe from marketing emails but keep my account",
        "how can I remove a device from my trusted devices",
        "my account shows as suspended with no explanation",
        "I need to update the security questions on my account",
        "I cannot log in after changing my password",
    ],
}


def compose(rng, clauses):
    clause = rng.choice(clauses)
    text = " ".join(p for p in (rng.choice(OPENERS), clause[0].upper() + clause[1:] + ".",
                                rng.choice(CLOSERS)) if p)
    return text


def build(n_train_per_class=150, n_test_per_class=50, seed=0):
    rng = random.Random(seed)
    rows = []
    for split, n in (("train", n_train_per_class), ("test", n_test_per_class)):
        for label, clauses in CLAUSES.items():
            half = clauses[:14] if split == "train" else clauses[14:]
            seen = set()
            while len(seen) < n:
                text = compose(rng, half)
                if text not in seen:
                    seen.add(text)
                    rows.append({"text": text, "label": label, "split": split})
    rng.shuffle(rows)
    return rows


def main(out=Path(__file__).resolve().parents[1] / "skgloss" / "data" / "support_tickets.jsonl"):
    rows = build()
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {len(rows)} rows to {out}")


if __name__ == "__main__":
    main()
