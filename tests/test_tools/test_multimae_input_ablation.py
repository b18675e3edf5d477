import importlib.util
import math
import os.path as osp

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tool():
    spec = importlib.util.spec_from_file_location(
        'multimae_input_ablation',
        osp.join(ROOT, 'tools', 'analysis', 'multimae_input_ablation.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_class_prior_entropy_and_visible_sets_by_hand():
    """Entropy of the label frequencies without the ignore label; each case
    shows exactly the stated number of tokens per modality, at the same
    positions for the same seed."""
    tool = _tool()
    labels = torch.tensor([[0, 0, 1, 1], [255, 255, 255, 255]])
    assert tool.class_prior_entropy(labels, 10) == pytest.approx(math.log(2))
    labels = torch.tensor([0, 1, 2, 2])  # p = 1/4, 1/4, 1/2
    assert tool.class_prior_entropy(labels, 3) == pytest.approx(
        1.5 * math.log(2))
    cases = tool.visible_sets(batch=3, num=36)
    counts = {case: {m: v.sum(1).tolist() for m, v in vis.items()}
              for case, vis in cases.items()}
    assert counts['18 rgb'] == dict(rgb=[18] * 3, depth=[0] * 3,
                                    semseg=[0] * 3)
    assert counts['all 36 rgb']['rgb'] == [36] * 3
    assert counts['6 rgb + 6 depth + 6 semseg'] == dict(
        rgb=[6] * 3, depth=[6] * 3, semseg=[6] * 3)
    assert counts['9 depth + 9 semseg'] == dict(rgb=[0] * 3, depth=[9] * 3,
                                                semseg=[9] * 3)
    assert counts['18 semseg']['semseg'] == [18] * 3
    again = tool.visible_sets(batch=3, num=36)
    for case in cases:
        for m in cases[case]:
            assert torch.equal(cases[case][m], again[case][m])


def test_constant_depth_l1_by_hand():
    """Mean |d - median of its image| over the valid pixels of all images
    (invalid pixels neither set the median nor count)."""
    tool = _tool()
    depth = torch.tensor([[1., 2., 6., 100.], [0., 0., 3., 5.]]).view(
        2, 1, 2, 2)
    valid = torch.tensor([[True, True, True, False],
                          [True, True, True, True]]).view(2, 1, 2, 2)
    # image 1: median 2 -> |1-2|+0+|6-2| = 5 over 3 pixels; image 2: torch's
    # lower median 0 -> 0+0+3+5 = 8 over 4 pixels; (5 + 8) / 7
    assert tool.constant_depth_l1(depth, valid) == pytest.approx(13 / 7)


def test_ablation_tool_on_the_demo_config():
    """The tool runs on the shipped MultiMAE demo config (untrained model,
    4 rooms): every case reports every decoder, a fully visible RGB has no
    hidden RGB token (loss 0), and an untrained model is far above the
    class prior on semantics (it has learned nothing)."""
    tool = _tool()
    config = osp.join(ROOT, 'configs', 'pretrain',
                      'multimae_vit-tiny_synthetic-demo.py')
    out = tool.main([config, '--num-images', '4'])
    assert len(out) == 5
    for losses in out.values():
        assert set(losses) == {'rgb', 'rgb_normpix', 'depth', 'semseg'}
    assert out['all 36 rgb']['rgb'] == 0.
    assert out['all 36 rgb']['rgb_normpix'] == 0.
    assert out['18 rgb']['rgb'] > 0.
    assert all(v['semseg'] > 2.0 for v in out.values())  # prior ~ 1.6
