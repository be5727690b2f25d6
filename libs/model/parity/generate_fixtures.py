#!/usr/bin/env python3
"""Generate PyTorch parity fixtures for the TypeScript / TensorFlow.js MMIM implementation.

What this builds
----------------
A *tiny* MMIM (MultiModal InfoMax, Han et al. 2021) written from scratch in PyTorch so that it
follows the authors' public code (declare-lab/Multimodal-Infomax: src/model.py,
src/modules/encoders.py, src/solver.py) operation for operation:

* ``text_enc.bertmodel``: a small BERT with HuggingFace ``BertModel`` math and parameter names
  (transformers 4.0.0 as pinned by the authors): word + position + token-type embeddings ->
  LayerNorm; self-attention with scores / sqrt(head_dim) + (1 - mask) * -10000, softmax;
  attention.output.dense + residual + LayerNorm; intermediate.dense + exact (erf) GELU;
  output.dense + residual + LayerNorm; a pooler (dense + tanh) whose output is never used.
  As in HF, ``word_embeddings`` has ``padding_idx = pad_token_id``: its row 0 never receives a
  gradient (it stays nonzero, like the real checkpoint's [PAD] row). Dropout is omitted (the
  fixtures are deterministic; see README).
* ``visual_enc`` / ``acoustic_enc``: nn.LSTM over pack_padded_sequence(enforce_sorted=False),
  final hidden state, dropout (p=0), linear_1.
* ``mi_tv`` / ``mi_ta``: MMILB (mlp_mu, mlp_logvar without a last activation, entropy_prj).
* ``cpc_zt`` / ``cpc_zv`` / ``cpc_za``: CPC with a single Linear ``net``.
* ``fusion_prj``: SubNet (linear_1..3) on concat[text, acoustic, visual].

Then it reproduces the reference training loop (two Adam optimisers, gradient clipping over all
parameters, the stage-0 / stage-1 schedule, entropy memory, and the zero_grad quirk) in float64
starting from float32 initial weights, and writes safetensors fixtures (with a self-written
safetensors writer; neither ``transformers`` nor ``safetensors`` is needed).

How to run
----------
    /usr/bin/python3 libs/model/parity/generate_fixtures.py

(The interpreter must have torch; developed against torch 1.13 whose ``Module.zero_grad``
default is ``set_to_none=False``, as in the authors' torch 1.7. We pass it explicitly.)
Outputs go to ``libs/model/parity/fixtures/`` (see the README.md there for every tensor).
The script is deterministic (fixed torch / numpy seeds, CPU only, float64 reference math).
"""

import copy
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

SEED = 1111
HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "fixtures")

CONFIG = {
    "bert": {
        "vocab_size": 64,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 64,
        "max_position_embeddings": 64,
        "type_vocab_size": 2,
        "layer_norm_eps": 1e-12,
        "hidden_act": "gelu",
        "pad_token_id": 0,
    },
    "d_vin": 6,
    "d_ain": 5,
    "d_vh": 8,
    "d_ah": 6,
    "d_vout": 16,
    "d_aout": 12,
    "d_prjh": 24,
    "n_class": 1,
    "cpc_layers": 1,
    "n_layer": 1,
    "add_va": False,
    "dropout_a": 0,
    "dropout_v": 0,
    "dropout_prj": 0,
    "alpha": 0.1,
    "beta": 0.1,
    "clip": 1.0,
    "lr_main": 0.01,
    "lr_bert": 0.001,
    "lr_mmilb": 0.01,
    "weight_decay_main": 0.0001,
    "weight_decay_bert": 0.0001,
    "weight_decay_club": 0.0001,
    "batch_size": 12,
    "text_len": 10,
}

N_BATCHES = 3
T_V = 9  # padded visual length
T_A = 7  # padded acoustic length
CLS_ID, SEP_ID, PAD_ID = 2, 3, 0
FIRST_WORD_ID = 5


# ----------------------------------------------------------------------------------------------
# safetensors (written by hand)
# ----------------------------------------------------------------------------------------------
_DTYPES = {
    np.dtype("<f4"): "F32",
    np.dtype("<f8"): "F64",
    np.dtype("<i4"): "I32",
}


def write_safetensors(path, tensors, metadata=None):
    """tensors: dict name -> numpy array (float32 / float64 / int32). Names are written sorted."""
    header = {}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        src = np.asarray(tensors[name])
        arr = np.ascontiguousarray(src).reshape(src.shape)  # ascontiguousarray turns 0-d into 1-d
        arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        if arr.dtype not in _DTYPES:
            raise TypeError(f"{name}: unsupported dtype {arr.dtype}")
        data = arr.tobytes(order="C")
        header[name] = {
            "dtype": _DTYPES[arr.dtype],
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * ((8 - len(hbytes) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for c in chunks:
            f.write(c)


def read_safetensors(path):
    """Minimal reader, used to self-check the writer."""
    inv = {"F32": "<f4", "F64": "<f8", "I32": "<i4"}
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, h in header.items():
        b, e = h["data_offsets"]
        out[name] = np.frombuffer(raw[base + b : base + e], dtype=inv[h["dtype"]]).reshape(tuple(h["shape"]))
    return out, meta


# ----------------------------------------------------------------------------------------------
# Tiny BERT with HuggingFace BertModel math and parameter names
# ----------------------------------------------------------------------------------------------
class BertEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c["vocab_size"], c["hidden_size"], padding_idx=c["pad_token_id"])
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], c["hidden_size"])
        self.token_type_embeddings = nn.Embedding(c["type_vocab_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, input_ids, token_type_ids):
        seq_len = input_ids.size(1)
        position_ids = torch.arange(seq_len, dtype=torch.long, device=input_ids.device).unsqueeze(0)
        emb = (
            self.word_embeddings(input_ids)
            + self.position_embeddings(position_ids)
            + self.token_type_embeddings(token_type_ids)
        )
        return self.LayerNorm(emb)


class BertSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.n_heads = c["num_attention_heads"]
        self.head_dim = c["hidden_size"] // self.n_heads
        self.query = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.key = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.value = nn.Linear(c["hidden_size"], c["hidden_size"])

    def _split(self, x):  # (B, L, H) -> (B, heads, L, head_dim)
        b, l, _ = x.shape
        return x.view(b, l, self.n_heads, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, hidden, ext_mask):
        q = self._split(self.query(hidden))
        k = self._split(self.key(hidden))
        v = self._split(self.value(hidden))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        scores = scores + ext_mask
        probs = torch.softmax(scores, dim=-1)
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
        return ctx.view(ctx.size(0), ctx.size(1), -1)


class BertSelfOutput(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, h, inp):
        return self.LayerNorm(self.dense(h) + inp)


class BertAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = BertSelfAttention(c)
        self.output = BertSelfOutput(c)

    def forward(self, hidden, ext_mask):
        return self.output(self.self(hidden, ext_mask), hidden)


class BertIntermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["intermediate_size"])

    def forward(self, h):
        return F.gelu(self.dense(h))  # exact erf GELU (HF "gelu")


class BertOutput(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["intermediate_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, h, inp):
        return self.LayerNorm(self.dense(h) + inp)


class BertLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = BertAttention(c)
        self.intermediate = BertIntermediate(c)
        self.output = BertOutput(c)

    def forward(self, hidden, ext_mask):
        a = self.attention(hidden, ext_mask)
        return self.output(self.intermediate(a), a)


class BertEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(c) for _ in range(c["num_hidden_layers"])])

    def forward(self, hidden, ext_mask):
        for lyr in self.layer:
            hidden = lyr(hidden, ext_mask)
        return hidden


class BertPooler(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"])

    def forward(self, hidden):
        return torch.tanh(self.dense(hidden[:, 0]))


class BertModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = BertEmbeddings(c)
        self.encoder = BertEncoder(c)
        self.pooler = BertPooler(c)

    def forward(self, input_ids, attention_mask, token_type_ids):
        # transformers 4.0.0 get_extended_attention_mask: (1.0 - mask) * -10000.0 in the model dtype
        ext = attention_mask[:, None, None, :].to(self.embeddings.LayerNorm.weight.dtype)
        ext = (1.0 - ext) * -10000.0
        seq = self.encoder(self.embeddings(input_ids, token_type_ids), ext)
        pooled = self.pooler(seq)  # computed as HF does; never used downstream
        return seq, pooled


class LanguageEmbeddingLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bertmodel = BertModel(c)

    def forward(self, bert_sent, bert_sent_type, bert_sent_mask):
        return self.bertmodel(bert_sent, bert_sent_mask, bert_sent_type)[0]


# ----------------------------------------------------------------------------------------------
# MMIM modules (reference semantics)
# ----------------------------------------------------------------------------------------------
class RNNEncoder(nn.Module):
    def __init__(self, in_size, hidden_size, out_size, num_layers=1, dropout=0.0):
        super().__init__()
        self.rnn = nn.LSTM(in_size, hidden_size, num_layers=num_layers, dropout=dropout, bidirectional=False)
        self.dropout = nn.Dropout(dropout)
        self.linear_1 = nn.Linear(hidden_size, out_size)

    def forward(self, x, lengths):
        """x: (T, B, in) time-major, as the reference's collate_fn produces; lengths: (B,)."""
        packed = pack_padded_sequence(x, lengths.to(torch.int64).cpu(), enforce_sorted=False)
        _, (h_n, _) = self.rnn(packed)
        # reference: final_states[0].squeeze(); with one layer that is h_n[0] of shape (B, h)
        h = self.dropout(h_n[-1])
        return self.linear_1(h)


class SubNet(nn.Module):
    def __init__(self, in_size, hidden_size, n_class, dropout):
        super().__init__()
        self.drop = nn.Dropout(p=dropout)
        self.linear_1 = nn.Linear(in_size, hidden_size)
        self.linear_2 = nn.Linear(hidden_size, hidden_size)
        self.linear_3 = nn.Linear(hidden_size, n_class)

    def forward(self, x):
        y_1 = torch.tanh(self.linear_1(self.drop(x)))
        y_2 = torch.tanh(self.linear_2(y_1))
        return y_2, self.linear_3(y_2)


class MMILB(nn.Module):
    def __init__(self, x_size, y_size):
        super().__init__()
        self.mlp_mu = nn.Sequential(nn.Linear(x_size, y_size), nn.ReLU(), nn.Linear(y_size, y_size))
        # NOTE: no last activation on logvar, whatever mmilb_last_activation says (reference code)
        self.mlp_logvar = nn.Sequential(nn.Linear(x_size, y_size), nn.ReLU(), nn.Linear(y_size, y_size))
        self.entropy_prj = nn.Sequential(nn.Linear(y_size, y_size // 4), nn.Tanh())

    def forward(self, x, y, labels=None, mem=None):
        mu, logvar = self.mlp_mu(x), self.mlp_logvar(x)
        positive = -((mu - y) ** 2) / 2.0 / torch.exp(logvar)
        lld = torch.mean(torch.sum(positive, -1))
        H = 0.0
        sample_dict = {"pos": None, "neg": None}
        if labels is not None:
            z = self.entropy_prj(y)
            lab = labels.squeeze()
            pos_y = z[lab > 0]
            neg_y = z[lab < 0]
            sample_dict["pos"], sample_dict["neg"] = pos_y, neg_y
            if mem is not None and mem.get("pos", None) is not None:
                pos_all = torch.cat(mem["pos"] + [pos_y], dim=0)
                neg_all = torch.cat(mem["neg"] + [neg_y], dim=0)
                dp = pos_all - pos_all.mean(dim=0)
                dn = neg_all - neg_all.mean(dim=0)
                sigma_pos = torch.mean(torch.bmm(dp.unsqueeze(-1), dp.unsqueeze(1)), dim=0)
                sigma_neg = torch.mean(torch.bmm(dn.unsqueeze(-1), dn.unsqueeze(1)), dim=0)
                H = 0.25 * (torch.logdet(sigma_pos) + torch.logdet(sigma_neg))
        return lld, sample_dict, H


class CPC(nn.Module):
    def __init__(self, x_size, y_size, n_layers=1):
        super().__init__()
        if n_layers == 1:
            self.net = nn.Linear(y_size, x_size)
        else:
            layers = []
            for i in range(n_layers):
                if i == 0:
                    layers += [nn.Linear(y_size, x_size), nn.Tanh()]
                else:
                    layers += [nn.Linear(x_size, x_size)]
            self.net = nn.Sequential(*layers)

    def forward(self, x, y):
        x_pred = self.net(y)
        x_pred = x_pred / x_pred.norm(dim=1, keepdim=True)
        x = x / x.norm(dim=1, keepdim=True)
        pos = torch.sum(x * x_pred, dim=-1)
        neg = torch.logsumexp(torch.matmul(x, x_pred.t()), dim=-1)
        return -(pos - neg).mean()


class MMIM(nn.Module):
    def __init__(self, hp):
        super().__init__()
        assert not hp["add_va"]
        d_t = hp["bert"]["hidden_size"]
        self.text_enc = LanguageEmbeddingLayer(hp["bert"])
        nl = hp["n_layer"]
        self.visual_enc = RNNEncoder(hp["d_vin"], hp["d_vh"], hp["d_vout"], nl, hp["dropout_v"] if nl > 1 else 0.0)
        self.acoustic_enc = RNNEncoder(hp["d_ain"], hp["d_ah"], hp["d_aout"], nl, hp["dropout_a"] if nl > 1 else 0.0)
        self.mi_tv = MMILB(d_t, hp["d_vout"])
        self.mi_ta = MMILB(d_t, hp["d_aout"])
        self.cpc_zt = CPC(d_t, hp["d_prjh"], hp["cpc_layers"])
        self.cpc_zv = CPC(hp["d_vout"], hp["d_prjh"], hp["cpc_layers"])
        self.cpc_za = CPC(hp["d_aout"], hp["d_prjh"], hp["cpc_layers"])
        self.fusion_prj = SubNet(d_t + hp["d_aout"] + hp["d_vout"], hp["d_prjh"], hp["n_class"], hp["dropout_prj"])

    def forward(self, visual, acoustic, v_len, a_len, bert_sent, bert_sent_type, bert_sent_mask, y=None, mem=None):
        """visual / acoustic are time-major (T, B, d) like the reference's collate_fn output."""
        enc_word = self.text_enc(bert_sent, bert_sent_type, bert_sent_mask)
        text = enc_word[:, 0, :]
        acoustic = self.acoustic_enc(acoustic, a_len)
        visual = self.visual_enc(visual, v_len)
        if y is not None:
            lld_tv, tv_pn, H_tv = self.mi_tv(x=text, y=visual, labels=y, mem=mem["tv"])
            lld_ta, ta_pn, H_ta = self.mi_ta(x=text, y=acoustic, labels=y, mem=mem["ta"])
        else:
            lld_tv, tv_pn, H_tv = self.mi_tv(x=text, y=visual)
            lld_ta, ta_pn, H_ta = self.mi_ta(x=text, y=acoustic)
        fusion, preds = self.fusion_prj(torch.cat([text, acoustic, visual], dim=1))
        nce_t = self.cpc_zt(text, fusion)
        nce_v = self.cpc_zv(visual, fusion)
        nce_a = self.cpc_za(acoustic, fusion)
        nce = nce_t + nce_v + nce_a
        pn_dic = {"tv": tv_pn, "ta": ta_pn, "va": None}
        lld = lld_tv + lld_ta
        H = H_tv + H_ta
        extras = dict(
            text=text, visual=visual, acoustic=acoustic, fusion=fusion, preds=preds,
            lld_tv=lld_tv, lld_ta=lld_ta, nce_t=nce_t, nce_v=nce_v, nce_a=nce_a, H_tv=H_tv, H_ta=H_ta,
        )
        return lld, nce, preds, pn_dic, H, extras


# ----------------------------------------------------------------------------------------------
# Initialisation
# ----------------------------------------------------------------------------------------------
def build_initial_model():
    torch.manual_seed(SEED)
    model = MMIM(CONFIG)  # non-BERT biases keep PyTorch's default init from construction
    with torch.no_grad():
        bert = model.text_enc.bertmodel
        for mod in bert.modules():
            if isinstance(mod, nn.Linear):
                mod.weight.normal_(0.0, 0.02)
                mod.bias.copy_(0.02 * torch.randn_like(mod.bias))
            elif isinstance(mod, nn.Embedding):
                mod.weight.normal_(0.0, 0.02)  # padding row left nonzero (as in the real checkpoint)
            elif isinstance(mod, nn.LayerNorm):
                mod.weight.copy_(1.0 + 0.1 * torch.randn_like(mod.weight))
                mod.bias.copy_(0.1 * torch.randn_like(mod.bias))
    # solver.py's loop, verbatim in behaviour: grouping by substring, and the xavier loop nested in
    # the named_parameters loop (re-initialises everything collected so far at each iteration;
    # only the RNG stream is affected, the final weights are stored in init.safetensors anyway).
    mmilb_param, main_param, bert_param = [], [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            if "bert" in name:
                bert_param.append(p)
            elif "mi" in name:
                mmilb_param.append(p)
            else:
                main_param.append(p)
            for q in mmilb_param + main_param:
                if q.dim() > 1:
                    nn.init.xavier_normal_(q)
    return model


def param_groups(model):
    groups = {"bert": [], "mmilb": [], "main": []}
    for name, p in model.named_parameters():
        if "bert" in name:
            groups["bert"].append(name)
        elif "mi" in name:
            groups["mmilb"].append(name)
        else:
            groups["main"].append(name)
    return groups


def make_optimisers(model):
    hp = CONFIG
    bert_p, mmilb_p, main_p = [], [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            if "bert" in name:
                bert_p.append(p)
            elif "mi" in name:
                mmilb_p.append(p)
            else:
                main_p.append(p)
    opt_mmilb = torch.optim.Adam(mmilb_p, lr=hp["lr_mmilb"], weight_decay=hp["weight_decay_club"])
    opt_main = torch.optim.Adam(
        [
            {"params": bert_p, "weight_decay": hp["weight_decay_bert"], "lr": hp["lr_bert"]},
            {"params": main_p, "weight_decay": hp["weight_decay_main"], "lr": hp["lr_main"]},
        ]
    )
    return opt_mmilb, opt_main


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------
def make_batches(rng):
    B, L = CONFIG["batch_size"], CONFIG["text_len"]
    vocab = CONFIG["bert"]["vocab_size"]
    max_words = L - 2
    batches = []
    label_plan = [(5, 5, 2), (6, 5, 1), (5, 6, 1)]  # (n_pos, n_neg, n_zero) per batch
    for bi in range(N_BATCHES):
        n_words = rng.randint(1, max_words + 1, size=B)
        n_words[rng.randint(B)] = max_words  # one full-length sample (no padding at all)
        j = rng.randint(B)
        while n_words[j] == max_words:
            j = rng.randint(B)
        n_words[j] = 1  # one very short sample: [CLS] w [SEP]
        ids = np.zeros((B, L), np.int32)
        mask = np.zeros((B, L), np.int32)
        typ = np.zeros((B, L), np.int32)
        for s in range(B):
            n = int(n_words[s])
            ids[s, 0] = CLS_ID
            ids[s, 1 : 1 + n] = rng.randint(FIRST_WORD_ID, vocab, size=n)
            ids[s, 1 + n] = SEP_ID
            mask[s, : n + 2] = 1
        # two samples get token type 1 on the second half of their real tokens
        for s in rng.choice(B, size=2, replace=False):
            real = int(mask[s].sum())
            typ[s, real // 2 : real] = 1

        def seq(T, d, lens):
            x = rng.randn(B, T, d).astype(np.float32)
            for s in range(B):
                # garbage in the padding: large, random, not zero; must be ignored
                x[s, lens[s] :] = rng.uniform(-50.0, 50.0, size=(T - lens[s], d)).astype(np.float32)
            return x

        vlens = rng.randint(1, T_V + 1, size=B).astype(np.int32)
        alens = rng.randint(1, T_A + 1, size=B).astype(np.int32)
        pa, pb = rng.choice(B, size=2, replace=False)
        vlens[pa], vlens[pb] = 1, T_V
        pa, pb = rng.choice(B, size=2, replace=False)
        alens[pa], alens[pb] = T_A, 1
        visual = seq(T_V, CONFIG["d_vin"], vlens)
        acoustic = seq(T_A, CONFIG["d_ain"], alens)

        n_pos, n_neg, n_zero = label_plan[bi]
        labels = np.concatenate(
            [rng.uniform(0.2, 3.0, n_pos), -rng.uniform(0.2, 3.0, n_neg), np.zeros(n_zero)]
        )
        labels[0] = 3.0 if bi == 0 else labels[0]  # a boundary value
        rng.shuffle(labels)
        y = labels.astype(np.float32).reshape(B, 1)
        batches.append(
            dict(bert_ids=ids, bert_mask=mask, bert_type=typ, visual=visual, acoustic=acoustic,
                 vlens=vlens, alens=alens, y=y)
        )
    return batches


def to_torch(b):
    """Batch-first numpy -> the reference's tensors (float64, time-major visual/acoustic)."""
    return dict(
        visual=torch.from_numpy(b["visual"]).double().transpose(0, 1).contiguous(),
        acoustic=torch.from_numpy(b["acoustic"]).double().transpose(0, 1).contiguous(),
        vlens=torch.from_numpy(b["vlens"]).to(torch.int64),
        alens=torch.from_numpy(b["alens"]).to(torch.int64),
        bert_sent=torch.from_numpy(b["bert_ids"]).to(torch.int64),
        bert_sent_type=torch.from_numpy(b["bert_type"]).to(torch.int64),
        bert_sent_mask=torch.from_numpy(b["bert_mask"]).to(torch.int64),
        y=torch.from_numpy(b["y"]).double(),
    )


def run_model(model, tb, with_labels, mem):
    return model(
        tb["visual"], tb["acoustic"], tb["vlens"], tb["alens"],
        tb["bert_sent"], tb["bert_sent_type"], tb["bert_sent_mask"],
        y=tb["y"] if with_labels else None, mem=mem,
    )


def f64(t):
    if isinstance(t, float):
        return np.array(t, dtype=np.float64)
    return t.detach().to(torch.float64).cpu().numpy().astype(np.float64)


def grads_of(model, prefix):
    return {f"{prefix}{n}": f64(p.grad) for n, p in model.named_parameters() if p.grad is not None}


def params_of(model, prefix):
    return {f"{prefix}{n}": f64(p) for n, p in model.named_parameters()}


# ----------------------------------------------------------------------------------------------
# Fixtures
# ----------------------------------------------------------------------------------------------
def forward_fixtures(model64, tbs):
    out = {}
    beta, alpha = CONFIG["beta"], CONFIG["alpha"]

    # Stage-0 style: batch 0, no labels, loss = -lld
    m = copy.deepcopy(model64)
    m.train()
    m.zero_grad(set_to_none=False)
    lld, nce, preds, pn, H, ex = run_model(m, tbs[0], False, None)
    (-lld).backward()
    out["s0.lld"] = f64(lld)
    out["s0.lld_tv"] = f64(ex["lld_tv"])
    out["s0.lld_ta"] = f64(ex["lld_ta"])
    out.update(grads_of(m, "s0.grad."))
    s0_grad_names = {n for n, p in m.named_parameters() if p.grad is not None}

    # Stage-1 style: memory from batch 0 (with labels, initial weights), then batch 1 with H
    m = copy.deepcopy(model64)
    m.train()
    m.zero_grad(set_to_none=False)
    _, _, _, pn0, _, _ = run_model(m, tbs[0], True, {"tv": None, "ta": None, "va": None})
    mem = {
        "tv": {"pos": [pn0["tv"]["pos"].detach()], "neg": [pn0["tv"]["neg"].detach()]},
        "ta": {"pos": [pn0["ta"]["pos"].detach()], "neg": [pn0["ta"]["neg"].detach()]},
        "va": None,
    }
    m.zero_grad(set_to_none=False)
    lld, nce, preds, pn, H, ex = run_model(m, tbs[1], True, mem)
    y_loss = F.l1_loss(preds, tbs[1]["y"], reduction="mean")
    loss = y_loss + alpha * nce - beta * lld
    loss = loss - beta * H
    loss.backward()
    for k in ("text", "visual", "acoustic", "fusion", "preds"):
        out[f"s1.{k}"] = f64(ex[k])
    for k in ("lld_tv", "lld_ta", "nce_t", "nce_v", "nce_a", "H_tv", "H_ta"):
        out[f"s1.{k}"] = f64(ex[k])
    out["s1.lld"], out["s1.nce"], out["s1.H"] = f64(lld), f64(nce), f64(H)
    out["s1.y_loss"], out["s1.loss"] = f64(y_loss), f64(loss)
    for pair in ("tv", "ta"):
        for pol in ("pos", "neg"):
            out[f"s1.mem.{pair}.{pol}"] = f64(mem[pair][pol][0])
    out.update(grads_of(m, "s1.grad."))
    s1_grad_names = {n for n, p in m.named_parameters() if p.grad is not None}
    return out, s0_grad_names, s1_grad_names


def train_fixtures(model64, tbs):
    """Reproduce solver.py train(): epoch 1 (stage 0 then stage 1) + epoch 2's first stage-0 step."""
    hp = CONFIG
    model = copy.deepcopy(model64)
    opt_mmilb, opt_main = make_optimisers(model)
    mem_size = 1
    out = {}
    log = {}

    def train(optimizer, stage, batch_indices):
        model.train()
        losses, norms, info = [], [], []
        mem_pos_tv, mem_neg_tv, mem_pos_ta, mem_neg_ta = [], [], [], []
        for i_batch, bi in enumerate(batch_indices):
            model.zero_grad(set_to_none=False)  # torch <= 1.13 default: zero existing grads
            tb = tbs[bi]
            if stage == 0:
                y, mem = None, None
            elif i_batch >= mem_size:
                mem = {"tv": {"pos": mem_pos_tv, "neg": mem_neg_tv},
                       "ta": {"pos": mem_pos_ta, "neg": mem_neg_ta}, "va": None}
            else:
                mem = {"tv": None, "ta": None, "va": None}
            lld, nce, preds, pn_dic, H, ex = run_model(model, tb, stage == 1, mem)
            if stage == 1:
                y_loss = F.l1_loss(preds, tb["y"], reduction="mean")
                if len(mem_pos_tv) < mem_size:
                    mem_pos_tv.append(pn_dic["tv"]["pos"].detach())
                    mem_neg_tv.append(pn_dic["tv"]["neg"].detach())
                    mem_pos_ta.append(pn_dic["ta"]["pos"].detach())
                    mem_neg_ta.append(pn_dic["ta"]["neg"].detach())
                else:
                    oldest = i_batch % mem_size
                    mem_pos_tv[oldest] = pn_dic["tv"]["pos"].detach()
                    mem_neg_tv[oldest] = pn_dic["tv"]["neg"].detach()
                    mem_pos_ta[oldest] = pn_dic["ta"]["pos"].detach()
                    mem_neg_ta[oldest] = pn_dic["ta"]["neg"].detach()
                loss = y_loss + hp["alpha"] * nce - hp["beta"] * lld  # contrast on
                if i_batch > mem_size:
                    loss = loss - hp["beta"] * H
                loss.backward()
            else:
                loss = -lld
                loss.backward()
            gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), hp["clip"])
            optimizer.step()
            losses.append(loss.item())
            norms.append(gnorm.item())
            info.append({"H": float(H) if isinstance(H, float) else H.item(), "lld": lld.item(), "nce": nce.item()})
        return losses, norms, info

    init_state = {n: p.detach().clone() for n, p in model.named_parameters()}
    l0, n0, i0 = train(opt_mmilb, 0, [0, 1, 2])
    out["stage0.loss"], out["stage0.grad_norm"] = np.array(l0), np.array(n0)
    out.update(params_of(model, "after_stage0."))
    st0 = {n: p.detach().clone() for n, p in model.named_parameters()}
    l1, n1, i1 = train(opt_main, 1, [0, 1, 2])
    out["stage1.loss"], out["stage1.grad_norm"] = np.array(l1), np.array(n1)
    out.update(params_of(model, "after_stage1."))
    st1 = {n: p.detach().clone() for n, p in model.named_parameters()}
    # (evaluation + ReduceLROnPlateau(patience=20) change nothing here)
    pre_none = [n for n, p in model.named_parameters() if p.grad is None]
    l2, n2, i2 = train(opt_mmilb, 0, [0])
    out["epoch2_step0.loss"], out["epoch2_step0.grad_norm"] = np.array(l2[0]), np.array(n2[0])
    out.update(params_of(model, "after_epoch2_step0."))
    st2 = {n: p.detach().clone() for n, p in model.named_parameters()}
    log.update(init=init_state, st0=st0, st1=st1, st2=st2, info0=i0, info1=i1, info2=i2, none_before_e2=pre_none)
    return out, log


def numpy_bert_cls(w32, b):
    """Plain numpy (float64) BERT forward from the stored float32 weights -> [CLS] vectors."""
    from math import erf

    c = CONFIG["bert"]
    W = {k[len("text_enc.bertmodel."):]: v.astype(np.float64) for k, v in w32.items() if k.startswith("text_enc.bertmodel.")}
    ids, typ, mask = b["bert_ids"], b["bert_type"], b["bert_mask"]
    Bn, L = ids.shape
    nh, hd = c["num_attention_heads"], c["hidden_size"] // c["num_attention_heads"]
    verf = np.vectorize(erf)

    def ln(x, p):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + c["layer_norm_eps"]) * W[p + ".weight"] + W[p + ".bias"]

    def lin(x, p):
        return x @ W[p + ".weight"].T + W[p + ".bias"]

    x = W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][np.arange(L)][None] \
        + W["embeddings.token_type_embeddings.weight"][typ]
    x = ln(x, "embeddings.LayerNorm")
    add = (1.0 - mask.astype(np.float64)) * -10000.0  # (B, L) over keys
    for i in range(c["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        q, k, v = (lin(x, p + "attention.self." + n).reshape(Bn, L, nh, hd) for n in ("query", "key", "value"))
        sc = np.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(hd) + add[:, None, None, :]
        sc = np.exp(sc - sc.max(-1, keepdims=True))
        pr = sc / sc.sum(-1, keepdims=True)
        ctx = np.einsum("bhqk,bkhd->bqhd", pr, v).reshape(Bn, L, nh * hd)
        a = ln(lin(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        hmid = lin(a, p + "intermediate.dense")
        hmid = 0.5 * hmid * (1.0 + verf(hmid / np.sqrt(2.0)))
        x = ln(lin(hmid, p + "output.dense") + a, p + "output.LayerNorm")
    return x[:, 0]


# ----------------------------------------------------------------------------------------------
def main():
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    os.makedirs(OUT_DIR, exist_ok=True)

    model32 = build_initial_model()
    init = {n: p.detach().cpu().numpy().astype(np.float32) for n, p in model32.named_parameters()}
    assert not any(True for _ in model32.buffers()), "model must have no buffers"
    model64 = copy.deepcopy(model32).double()

    batches = make_batches(np.random.RandomState(SEED))
    tbs = [to_torch(b) for b in batches]

    fwd, s0_names, s1_names = forward_fixtures(model64, tbs)
    trn, log = train_fixtures(model64, tbs)

    batch_t = {f"batch{i}.{k}": v for i, b in enumerate(batches) for k, v in b.items()}
    files = {
        "init.safetensors": (init, {"config": json.dumps(CONFIG, separators=(",", ":")),
                                    "note": "initial MMIM parameters, float32, PyTorch layouts"}),
        "batches.safetensors": (batch_t, {"note": "3 batches, batch-first; padding holds garbage"}),
        "forward.safetensors": (fwd, {"note": "float64 reference forward/backward from init weights"}),
        "train.safetensors": (trn, {"note": "float64 reference: epoch 1 (stage0, stage1) + epoch 2 stage-0 step 0"}),
    }
    total = 0
    for fname, (tensors, meta) in files.items():
        path = os.path.join(OUT_DIR, fname)
        write_safetensors(path, tensors, meta)
        back, meta_back = read_safetensors(path)
        assert set(back) == set(tensors) and meta_back == meta
        for k in tensors:
            assert back[k].dtype == np.asarray(tensors[k]).dtype and np.array_equal(back[k], tensors[k]), k
        size = os.path.getsize(path)
        total += size
        print(f"wrote {fname}: {len(tensors)} tensors, {size} bytes")
    print(f"total fixture size: {total} bytes")

    # ------------------------------------------------------------------ sanity checks
    checks = []

    def check(cond, msg):
        checks.append((bool(cond), msg))

    names = [n for n, _ in model64.named_parameters()]
    groups = param_groups(model64)
    pooler = [n for n in names if ".pooler." in n]
    ent = [n for n in names if "entropy_prj" in n]
    fus_cpc = [n for n in names if n.startswith(("fusion_prj", "cpc_"))]
    mi_all = groups["mmilb"]
    check(set(mi_all) == {n for n in names if n.startswith("mi_")}, "mmilb group == names starting mi_")
    check(s0_names == set(names) - set(pooler) - set(ent) - set(fus_cpc), "s0 grads: all but pooler/entropy_prj/fusion/cpc")
    check(s1_names == set(names) - set(pooler), "s1 grads: all but pooler")
    we = "text_enc.bertmodel.embeddings.word_embeddings.weight"
    check(np.all(fwd["s0.grad." + we][0] == 0) and np.all(fwd["s1.grad." + we][0] == 0), "word_embeddings pad row gets zero grad")
    for k in ("s1.H", "s1.H_tv", "s1.H_ta", "s1.loss", "s1.lld", "s1.nce", "s0.lld"):
        check(np.isfinite(fwd[k]).all(), f"{k} finite ({float(fwd[k]):.6f})")
    st0, st1, st2, ini = log["st0"], log["st1"], log["st2"], log["init"]
    same = lambda a, b, ns: all(torch.equal(a[n], b[n]) for n in ns)
    check(same(ini, st2, pooler), "BERT pooler unchanged through everything")
    check(same(ini, st0, ent), "entropy_prj unchanged after epoch-1 stage 0 (grad None)")
    check(same(st0, st1, ent), "entropy_prj unchanged after stage 1 (main optimiser does not own it)")
    check(not same(st1, st2, ent), "entropy_prj CHANGED by epoch-2 stage-0 step (zero grad, not None)")
    check(all(n in log["none_before_e2"] for n in pooler) and not any(n in log["none_before_e2"] for n in ent),
          "before epoch 2: pooler grad None, entropy_prj grad is a tensor")
    check(same(ini, st0, groups["bert"] + groups["main"]), "stage 0 changes only mmilb params")
    check(not any(torch.equal(ini[n], st0[n]) for n in mi_all if n not in ent), "stage 0 changed every mi_ mlp param")
    check(same(st0, st1, mi_all), "stage 1 leaves mmilb params unchanged")
    check(not any(torch.equal(st0[n], st1[n]) for n in groups["bert"] + groups["main"] if n not in pooler),
          "stage 1 changed every non-pooler bert/main param")
    check(all(math.isfinite(x["H"]) for x in log["info1"]), "stage-1 H values finite: " + str([round(x["H"], 6) for x in log["info1"]]))
    print("stage0.loss", trn["stage0.loss"], "grad_norm", trn["stage0.grad_norm"])
    print("stage1.loss", trn["stage1.loss"], "grad_norm", trn["stage1.grad_norm"])
    print("epoch2_step0.loss", float(trn["epoch2_step0.loss"]), "grad_norm", float(trn["epoch2_step0.grad_norm"]))

    # padding invariance: new garbage in the padded slots must not change anything
    rng = np.random.RandomState(7)
    b = copy.deepcopy(batches[1])
    for key, lk in (("visual", "vlens"), ("acoustic", "alens")):
        for s in range(b[key].shape[0]):
            L = b[lk][s]
            b[key][s, L:] = rng.uniform(-1e3, 1e3, size=b[key][s, L:].shape)
    b["bert_ids"] = np.where(b["bert_mask"] == 1, b["bert_ids"], rng.randint(5, 64, size=b["bert_ids"].shape)).astype(np.int32)
    with torch.no_grad():
        _, _, p_a, _, _, ea = run_model(model64, tbs[1], False, None)
        _, _, p_b, _, _, eb = run_model(model64, to_torch(b), False, None)
    check(all(torch.equal(ea[k], eb[k]) for k in ("text", "visual", "acoustic")) and torch.equal(p_a, p_b),
          "outputs invariant to padding garbage (sequences and pad token ids)")

    # independent re-derivations: LSTM per sample without packing, and a plain numpy BERT
    with torch.no_grad():
        enc_ok = True
        for enc, key, lk in ((model64.visual_enc, "visual", "vlens"), (model64.acoustic_enc, "acoustic", "alens")):
            for s in range(CONFIG["batch_size"]):
                L = int(batches[1][lk][s])
                _, (h, _) = enc.rnn(tbs[1][key][:L, s : s + 1])
                enc_ok &= torch.allclose(enc.linear_1(h[-1])[0], torch.from_numpy(fwd[f"s1.{key}"][s]), atol=1e-12, rtol=0)
    check(enc_ok, "packed LSTM == per-sample unpacked LSTM on valid steps")
    check(np.allclose(numpy_bert_cls(init, batches[1]), fwd["s1.text"], atol=1e-10, rtol=0),
          "numpy re-implementation of BERT [CLS] matches s1.text")

    ok = True
    for c, msg in checks:
        print(("  ok   " if c else "  FAIL ") + msg)
        ok &= c
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
