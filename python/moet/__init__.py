"""moet for PyTorch: moet's parameterization tables, MoE building blocks, reference model and
checkpoints. See docs/pytorch.md in the moet repository."""
from .apply import (apply, check_table, clip_gradients, init_tensor, lr_factor, make_optimizer,
                    make_scheduler, model_tensors)
from .checkpoint import (Checkpoint, load_model, load_optimizer_state, load_params,
                         optimizer_moments, read_checkpoint, save_checkpoint)
from .config import (ModelConfig, OptimConfig, RunConfig, config_from_dict, config_to_toml,
                     load_config, parse_config)
from .data import BatchLoader, Rng, open_splits, read_shard, write_shard
from .errors import MoetError
from .layers import (MoE, Attention, DenseMLP, MultLinear, Norm, route, router_z_loss,
                     scaled_linear, switch_aux_loss)
from .model import MoETransformer, Output
from .table import Table, TensorRow, load_table, parse_table, table_from_json
