"""MultiMAE-style per-task decoder: cross-attention from task queries to all
encoded tokens, then a few self-attention blocks."""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks.transformer import FFN
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.backbones.vision_transformer import \
    TransformerEncoderLayer

from mmrgbd.registry import MODELS
from ..utils import run_blocks, xavier_init_linears
from ..utils.pos_embed import PE_ORDERS
from .mae_decoder import sincos_grid_embed


class CrossAttention(nn.Module):
    """Multi-head cross-attention with ``scaled_dot_product_attention``.

    Args:
        embed_dims (int): Width of queries and context.
        num_heads (int): Number of heads.
        qkv_bias (bool): Bias of the q/k/v projections. Defaults to True.
    """

    def __init__(self, embed_dims: int, num_heads: int, qkv_bias=True):
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims {embed_dims} is not divisible by '
                             f'num_heads {num_heads}')
        self.num_heads = num_heads
        self.q = nn.Linear(embed_dims, embed_dims, bias=qkv_bias)
        self.kv = nn.Linear(embed_dims, 2 * embed_dims, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)

    def forward(self,
                query: torch.Tensor,
                context: torch.Tensor,
                context_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Attend from ``query`` (B, Q, D) to ``context`` (B, L, D).

        Args:
            query (Tensor): (B, Q, D).
            context (Tensor): (B, L, D).
            context_mask (Tensor, optional): Bool (B, L), True = may be
                attended to.

        Returns:
            Tensor: (B, Q, D).
        """
        B, Q, D = query.shape
        L = context.shape[1]
        h = self.num_heads
        q = self.q(query).view(B, Q, h, D // h).transpose(1, 2)  # (B,h,Q,d)
        kv = self.kv(context).view(B, L, 2, h, D // h).permute(2, 0, 3, 1, 4)
        k, v = kv[0], kv[1]  # (B, h, L, d)
        mask = None
        if context_mask is not None:
            mask = context_mask.bool()
            # a sample with nothing to attend to attends to all (no NaN)
            mask = mask | ~mask.any(-1, keepdim=True)
            mask = mask[:, None, None, :]  # (B, 1, 1, L)
        x = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x.transpose(1, 2).reshape(B, Q, D)  # (B, Q, D)
        return self.proj(x)


@MODELS.register_module()
class CrossAttentionTaskDecoder(BaseModule):
    """Decoder of one MultiMAE task (official ``SpatialOutputAdapter``).

    1. All encoded tokens are projected to ``embed_dims`` by one linear layer
       (``proj_context``). Each input modality's tokens get the fixed 2D
       sin-cos position embedding of its grid and the learned embedding of
       the modality (``modality_embed``). Together with the projected global
       tokens (no embedding) they form the **context**. Only tokens the
       encoder saw (visible ones, plus global tokens) are attended to. With
       the backbone's ``ids_keep`` (shared encoder: a fixed total of
       encoded tokens per sample) the encoded tokens are gathered and only
       they are projected and attended to, as the official adapter does
       (:meth:`build_encoded_context`); otherwise the context holds every
       position and the hidden ones are excluded by an attention mask
       (:meth:`build_context`; the same result, more work).
    2. The **queries** are one per patch of the task: its projected visible
       tokens and the learned ``mask_token`` at its hidden positions, plus
       the task's sin-cos position embedding and the task's modality
       embedding (as the official decoder builds them). If the task is not
       an input modality all queries are mask tokens on the grid of the
       first input modality, plus position (and the task's modality
       embedding if it is a context modality).
    3. ``x = cross_attn(query_norm(q), context_norm(context))`` **without a
       residual** (the query content reaches the output only through the
       attention, as official), ``x = x + mlp(mlp_norm(x))``,
       ``num_layers`` mmpretrain transformer blocks, and a linear layer
       (``head``) straight to ``out_channels`` per token (``p*p*C`` pixels,
       or ``q*q*num_classes`` logits for semseg), **no norm before it**.

    The parameters correspond one to one to the official adapter's
    (``tools/model_converters/multimae2mmrgbd.py`` maps them).

    Args:
        task (str): The modality this decoder reconstructs.
        out_channels (int): Output values per token.
        in_channels (int): Encoder width. Defaults to 768.
        embed_dims (int): Decoder width. Defaults to 256.
        num_heads (int): Heads of all attention layers. Defaults to 8.
        num_layers (int): Self-attention blocks after the cross-attention.
            Defaults to 2.
        mlp_ratio (float): MLP width / embed_dims. Defaults to 4.
        context_modalities (Sequence[str]): Input modalities that may form
            the context (each gets a learned embedding); those absent from the
            backbone output are skipped. Defaults to ('rgb', 'depth',
            'semseg').
        use_global_tokens (bool): Put the backbone's global tokens into the
            context. Defaults to True.
        pos_embed_order (str): Channel order of the sin-cos embeddings,
            ``'hw'`` (row first) as MultiMAE's. Defaults to ``'hw'``.
        norm_cfg (dict): Norm config. Defaults to LN with eps 1e-6.
        with_cp (bool): Activation checkpointing of the transformer blocks
            in training (less memory, one more block forward; the same
            gradients). Defaults to False.
        init_cfg (dict | list[dict], optional): Init config.
    """

    def __init__(self,
                 task: str,
                 out_channels: int,
                 in_channels: int = 768,
                 embed_dims: int = 256,
                 num_heads: int = 8,
                 num_layers: int = 2,
                 mlp_ratio: float = 4.,
                 context_modalities: Sequence[str] = ('rgb', 'depth',
                                                      'semseg'),
                 use_global_tokens: bool = True,
                 pos_embed_order: str = 'hw',
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 with_cp: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        super().__init__(init_cfg=init_cfg)
        self.with_cp = with_cp
        if pos_embed_order not in PE_ORDERS:
            raise ValueError(f'pos_embed_order must be one of {PE_ORDERS}, '
                             f'got {pos_embed_order!r}')
        self.task = task
        self.embed_dims = embed_dims
        self.context_modalities = list(context_modalities)
        self.use_global_tokens = use_global_tokens
        self.pos_embed_order = pos_embed_order
        self.proj_context = nn.Linear(in_channels, embed_dims)
        self.modality_embed = nn.ParameterDict({
            m: nn.Parameter(torch.zeros(1, 1, embed_dims))
            for m in self.context_modalities
        })
        self.mask_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.query_norm = build_norm_layer(norm_cfg, embed_dims)[1]
        self.context_norm = build_norm_layer(norm_cfg, embed_dims)[1]
        self.cross_attn = CrossAttention(embed_dims, num_heads)
        self.mlp_norm = build_norm_layer(norm_cfg, embed_dims)[1]
        self.mlp = FFN(
            embed_dims=embed_dims,
            feedforward_channels=int(mlp_ratio * embed_dims),
            act_cfg=dict(type='GELU'))
        self.layers = nn.ModuleList([
            TransformerEncoderLayer(
                embed_dims,
                num_heads,
                int(mlp_ratio * embed_dims),
                qkv_bias=True,
                norm_cfg=norm_cfg) for _ in range(num_layers)
        ])
        self.head = nn.Linear(embed_dims, out_channels)

    def init_weights(self) -> None:
        """Official MultiMAE init: truncated-normal (std 0.02) modality
        embeddings, a zero mask token, xavier-uniform weights (``qkv`` and
        ``kv`` split per matrix) and zero biases for every linear layer;
        norms stay at (1, 0)."""
        super().init_weights()
        if self.init_cfg is not None:
            return
        nn.init.zeros_(self.mask_token)
        for p in self.modality_embed.values():
            trunc_normal_(p, std=.02)
        xavier_init_linears(self)

    def _pos(self, grid, ref: torch.Tensor) -> torch.Tensor:
        return sincos_grid_embed(grid, self.embed_dims, ref,
                                 self.pos_embed_order)  # (1, N, D)

    def build_context(self, feats: dict):
        """Context tokens (B, L, D) and their attendable mask (B, L)."""
        ctx, mask = [], []
        for m in self.context_modalities:
            if m not in feats['tokens']:
                continue
            tok = self.proj_context(feats['tokens'][m])  # (B, N_m, D)
            tok = tok + self._pos(feats['grid_sizes'][m], tok)
            ctx.append(tok + self.modality_embed[m])
            mask.append(feats['visible'][m].bool())
        if not ctx:
            raise ValueError(
                f'none of the context modalities {self.context_modalities} '
                f"is in the backbone output ({list(feats['tokens'])})")
        glob = feats.get('global_tokens')
        if self.use_global_tokens and glob is not None:
            ctx.insert(0, self.proj_context(glob))  # (B, G, D)
            mask.insert(
                0,
                torch.ones(glob.shape[:2], dtype=torch.bool,
                           device=glob.device))
        return torch.cat(ctx, 1), torch.cat(mask, 1)  # (B, L, D), (B, L)

    def _encoded_ids(self, feats: dict) -> Optional[torch.Tensor]:
        """The backbone's ``ids_keep`` if the context can be gathered by it.

        ``ids_keep`` (B, n) indexes the encoded tokens in the concatenation
        of ``feats['tokens']`` (in their order). It is used when every
        encoded modality is a context modality and there is something to
        attend to; otherwise (hand-made feats, modality-specific encoders,
        a decoder that ignores an encoded modality) the context is built on
        the full layout with an attention mask (:meth:`build_context`).
        """
        ids = feats.get('ids_keep')
        if ids is None or any(m not in self.modality_embed
                              for m in feats['tokens']):
            return None
        glob = feats.get('global_tokens')
        if ids.shape[1] == 0 and (not self.use_global_tokens or glob is None
                                  or glob.shape[1] == 0):
            return None
        return ids

    def build_encoded_context(self, feats: dict, ids: torch.Tensor):
        """Context of the encoded tokens only, as the official adapter.

        Equals :meth:`build_context` without its hidden (masked-out)
        entries: the projection, the attention keys and values are computed
        for the ``n`` encoded tokens (+ global) instead of every position.

        Args:
            feats (dict): The backbone output.
            ids (Tensor): ``ids_keep`` (B, n), see :meth:`_encoded_ids`.

        Returns:
            tuple[Tensor, Tensor]: the context (B, G + n, D) and the
            projected encoded tokens scattered back to the concatenated
            full layout (B, N_all, D) (zeros elsewhere; the task queries
            take their visible tokens from it).
        """
        mods = list(feats['tokens'])
        B, n = ids.shape
        N_all = sum(feats['tokens'][m].shape[1] for m in mods)
        D = self.embed_dims
        x = feats.get('encoded_tokens')
        if x is None or x.shape[:2] != (B, n):
            # no encoder output in ids_keep order: gather it from the full
            # layout (the same tokens; the backbone's copy saves a
            # concatenation and a gather per decoder, and their backward)
            tokens = torch.cat([feats['tokens'][m] for m in mods],
                               1)  # (B, N_all, C)
            x = torch.gather(tokens, 1, ids[..., None].expand(
                -1, -1, tokens.shape[-1]))  # (B, n, C)
        glob = feats.get('global_tokens')
        G = glob.shape[1] if self.use_global_tokens and glob is not None \
            else 0
        if G:
            x = torch.cat([glob, x], 1)  # (B, G + n, C)
        x = self.proj_context(x)  # (B, G + n, D)
        encoded = x[:, G:]  # (B, n, D)
        emb = torch.cat([
            self._pos(feats['grid_sizes'][m], x) + self.modality_embed[m]
            for m in mods
        ], 1)  # (1, N_all, D)
        index = ids[..., None].expand(-1, -1, D)  # (B, n, D)
        emb = torch.gather(emb.expand(B, -1, -1), 1, index)  # (B, n, D)
        context = torch.cat([x[:, :G], encoded + emb], 1)  # (B, G + n, D)
        full = encoded.new_zeros(B, N_all, D).scatter(
            1, index, encoded)  # (B, N_all, D)
        return context, full

    def build_queries(self, feats: dict,
                      projected: Optional[torch.Tensor] = None
                      ) -> torch.Tensor:
        """This task's queries (B, N_task, D).

        Args:
            feats (dict): The backbone output.
            projected (Tensor, optional): The task's tokens already passed
                through ``proj_context`` (B, N_task, D) (only the visible
                ones are used); None projects ``feats['tokens'][task]``.
        """
        t = self.task
        if t in feats['tokens']:
            tok = self.proj_context(feats['tokens'][t]) if projected is None \
                else projected  # (B, N_t, D)
            vis = feats['visible'][t].bool()[..., None]  # (B, N_t, 1)
            q = torch.where(vis, tok, self.mask_token.to(tok.dtype))
            grid = feats['grid_sizes'][t]
        else:
            first = next(iter(feats['tokens']))
            ref = feats['tokens'][first]
            grid = feats['grid_sizes'][first]
            q = self.mask_token.to(ref.dtype).expand(ref.shape[0],
                                                     ref.shape[1], -1)
        q = q + self._pos(grid, q)  # (B, N_t, D)
        if t in self.modality_embed:
            q = q + self.modality_embed[t]
        return q  # (B, N_t, D)

    def task_grid(self, feats: dict):
        """The (h, w) grid the output tokens of this task live on."""
        if self.task in feats['grid_sizes']:
            return tuple(feats['grid_sizes'][self.task])
        return tuple(feats['grid_sizes'][next(iter(feats['tokens']))])

    def forward(self, feats: dict) -> torch.Tensor:
        """Decode this task.

        Args:
            feats (dict): The backbone output (``tokens``, ``visible``,
                ``grid_sizes``, ``global_tokens``).

        Returns:
            Tensor: (B, N_task, out_channels).
        """
        ids = self._encoded_ids(feats)
        if ids is None:
            context, ctx_mask = self.build_context(feats)  # (B, L, D)
            queries = self.build_queries(feats)  # (B, N_t, D)
        else:
            context, full = self.build_encoded_context(feats, ids)
            ctx_mask = None  # (B, G + n, D): only encoded tokens
            projected = None
            if self.task in feats['tokens']:
                start = 0
                for m, tok in feats['tokens'].items():
                    if m == self.task:
                        break
                    start += tok.shape[1]
                n_task = feats['tokens'][self.task].shape[1]
                projected = full[:, start:start + n_task]  # (B, N_t, D)
            queries = self.build_queries(feats, projected)  # (B, N_t, D)
        x = self.cross_attn(
            self.query_norm(queries), self.context_norm(context),
            ctx_mask)  # (B, N_t, D), no residual (as official)
        x = self.mlp(self.mlp_norm(x), identity=x)  # (B, N_t, D)
        x = run_blocks(self.layers, x,
                       self.with_cp and self.training)  # (B, N_t, D)
        return self.head(x)  # (B, N_t, out_channels)
