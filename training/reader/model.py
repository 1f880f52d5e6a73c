"""The reader: all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384) with two heads.

answer_logit [B]    = Linear(384, 1) on the [CLS] hidden state
start/end_logits [B, T] = Linear(384, 2) on every token state
"""

from __future__ import annotations

from torch import nn

from .base import base_dir


class Reader(nn.Module):
    def __init__(self, bert: nn.Module, hidden: int = 384):
        super().__init__()
        self.bert = bert
        self.answer = nn.Linear(hidden, 1)
        self.span = nn.Linear(hidden, 2)
        for lin in (self.answer, self.span):
            nn.init.normal_(lin.weight, std=0.02)
            nn.init.zeros_(lin.bias)

    def forward(self, input_ids, attention_mask, token_type_ids):
        h = self.bert(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        answer_logit = self.answer(h[:, 0]).squeeze(-1)
        span = self.span(h)
        return answer_logit, span[..., 0], span[..., 1]


def build_reader(load_base: bool = True) -> Reader:
    """BertModel from the package's config.json, weights from its model.safetensors (the pooler is unused)."""
    from safetensors.torch import load_file
    from transformers import BertConfig, BertModel

    d = base_dir()
    cfg = BertConfig.from_json_file(str(d / "config.json"))
    cfg._attn_implementation = "eager"  # plain matmul attention: exports cleanly to ONNX
    bert = BertModel(cfg, add_pooling_layer=False)
    if load_base:
        state = {k.removeprefix("bert."): v for k, v in load_file(str(d / "model.safetensors")).items()}
        state = {k: v for k, v in state.items() if not k.startswith("pooler.") and not k.endswith("position_ids")}
        missing, unexpected = bert.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.endswith("position_ids")]
        if missing or unexpected:
            raise RuntimeError(f"base weights do not fit BertModel: missing={missing} unexpected={unexpected}")
    return Reader(bert, cfg.hidden_size)
