"""tools/dataset_converters/scannet_instances_to_coco.py: ScanNet / NYUv2
2D instance labels as COCO JSON.

The ScanNet 2D layout (``scannet_frames_25k``) and the NYUv2 PNG layout are
built from real NYUv2 frames by ``tests/real_layouts`` (instances are the
8-connected pieces of each class); the JSON is read back with pycocotools
and, independently of the converter, scored by COCOeval against the masks
the layout builders wrote.
"""
import copy

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from real_layouts.files import load_tool as load_converter

from mmrgbd.datasets.errors import BadSampleError


def load_tool():
    return load_converter('scannet_instances_to_coco')


@pytest.fixture(scope='module')
def tool():
    return load_tool()


@pytest.fixture(scope='module')
def scannet(tmp_path_factory, samples_dir):
    from real_layouts.scannet_instances import build_scannet_instances
    root = tmp_path_factory.mktemp('scannet_frames_25k')
    return build_scannet_instances(
        root, samples_dir, val_scenes=('scene0011_00', 'scene0015_00'),
        frame_ids=(0, 100))


def expected_instances(encoded, classes, min_area=1000):
    """Hand list: (category id, mask) of every kept instance value."""
    lut = {src: i + 1 for i, (src, _) in enumerate(classes)}
    out = []
    for value in np.unique(encoded):
        if value // 1000 in lut and (encoded == value).sum() >= min_area:
            out.append((lut[value // 1000], encoded == value))
    return out


def filled(mask):
    """The mask with its holes filled (what COCO polygons can hold)."""
    out = np.zeros(mask.shape, np.uint8)
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, 1, thickness=-1)
    return out.astype(bool)


def test_scannet_round_trip(tool, scannet, tmp_path):
    out = tmp_path / 'scannet_val.coco.json'
    counts = tool.main([scannet['data_root'], str(out), '--scenes',
                        scannet['val_list']])
    # 2 scenes x 2 frames of the same real frame
    expected = expected_instances(scannet['instance'],
                                  tool.SCANNET_INSTANCE_CLASSES)
    # the real frame: chair, table and two doors of >= 1000 px (the wall and
    # its pieces carry no instance; a 326 px box piece is too small)
    assert sorted(c for c, _ in expected) == [3, 5, 6, 6]
    assert counts == dict(images=4, annotations=4 * len(expected))
    coco = COCO(str(out))
    cats = coco.loadCats(coco.getCatIds())
    assert [c['name'] for c in cats] == [
        n for _, n in tool.SCANNET_INSTANCE_CLASSES]
    assert [c['source_id'] for c in cats] == [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 16, 24, 28, 33, 34, 36, 39]
    imgs = coco.loadImgs(coco.getImgIds())
    assert [i['file_name'] for i in imgs] == [
        f'{s}/color/{f}.jpg' for s in ('scene0011_00', 'scene0015_00')
        for f in ('000000', '000100')]
    assert all((i['width'], i['height']) == (640, 480) for i in imgs)
    for img in imgs:
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img['id']))
        assert [a['category_id'] for a in anns] == [c for c, _ in expected]
        for ann, (_, mask) in zip(anns, expected):
            decoded = coco.annToMask(ann).astype(bool)  # polygons -> pixels
            # exact up to the holes polygons cannot carry
            np.testing.assert_array_equal(decoded, filled(mask))
            assert ann['area'] == mask.sum()
            ys, xs = np.nonzero(mask)
            assert ann['bbox'] == [xs.min(), ys.min(),
                                   xs.max() - xs.min() + 1,
                                   ys.max() - ys.min() + 1]
            np.testing.assert_allclose(
                mask_utils.toBbox(mask_utils.encode(
                    np.asfortranarray(mask.astype(np.uint8)))), ann['bbox'])
            assert ann['iscrowd'] == 0


def test_cocoeval_of_the_true_masks_is_perfect(tool, scannet, tmp_path):
    """COCOeval (what mmdet's CocoMetric runs) of the layout's own masks as
    detections against the converted JSON: every AP is 1, and without the
    chair detections the chair class scores 0."""
    out = tmp_path / 'gt.json'
    tool.main([scannet['data_root'], str(out), '--scenes',
               scannet['val_list']])
    gt = COCO(str(out))
    expected = expected_instances(scannet['instance'],
                                  tool.SCANNET_INSTANCE_CLASSES)
    dets = []
    for img_id in gt.getImgIds():
        for cat, mask in expected:
            rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
            rle['counts'] = rle['counts'].decode()
            dets.append(dict(image_id=img_id, category_id=cat,
                             segmentation=rle, score=0.9))
    for iou_type in ('segm', 'bbox'):
        ev = COCOeval(gt, gt.loadRes(copy.deepcopy(dets)), iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
        assert ev.stats[0] == pytest.approx(1.0)  # AP@[.5:.95]
        assert ev.stats[1] == pytest.approx(1.0)  # AP50
        assert ev.stats[2] == pytest.approx(1.0)  # AP75
    # drop the first detection (the chair, class 3) of every image: its
    # class has no true positive left
    kept = [d for i, d in enumerate(dets) if i % len(expected)]
    ev = COCOeval(gt, gt.loadRes(copy.deepcopy(kept)), 'segm')
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    # AP is averaged over the 3 classes with ground truth (chair, table,
    # door): 1, 1 and 0 for the chair
    assert ev.stats[0] == pytest.approx(2 / 3)


def test_nyuv2_round_trip(tool, tmp_path, samples_dir):
    from real_layouts.nyuv2_instances import build_nyuv2_instances
    layout = build_nyuv2_instances(tmp_path / 'nyuv2', samples_dir)
    out = tmp_path / 'nyuv2_test.coco.json'
    counts = tool.main([layout['data_root'], str(out), '--dataset', 'nyuv2',
                        '--split', 'test'])
    encoded = layout['label13'].astype(np.int64) * 1000 + layout['instance']
    assert layout['instance'].max() < 1000  # read as ids even so
    expected = expected_instances(encoded, tool.NYUV2_INSTANCE_CLASSES)
    # frame 1407: 5 chairs, 3 pieces of furniture, 3 pictures, a sofa and a
    # table of >= 1000 px; floor, wall, ceiling, objects are not instances
    assert sorted(c for c, _ in expected) == [3] * 5 + [4] * 3 + [5] * 3 + [
        6, 7]
    assert counts == dict(images=1, annotations=13)
    coco = COCO(str(out))
    assert coco.loadImgs(1)[0]['file_name'] == 'rgb/1407.png'
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == [
        'bed', 'books', 'chair', 'furniture', 'picture', 'sofa', 'table',
        'tv', 'window']
    for ann, (cat, mask) in zip(coco.loadAnns(coco.getAnnIds()), expected):
        assert ann['category_id'] == cat and ann['area'] == mask.sum()
        np.testing.assert_array_equal(coco.annToMask(ann).astype(bool),
                                      filled(mask))


def test_instance_formats_and_options(tool, tmp_path):
    """Per-image ids are combined with the label image; min area, empty
    images and colour images larger than the labels."""
    root = tmp_path / 'raw'
    for sub in ('color', 'label', 'instance'):
        (root / 'scene0000_00' / sub).mkdir(parents=True)
    label = np.zeros((6, 8), np.uint8)
    inst = np.zeros((6, 8), np.uint8)
    label[0:2, 0:3] = 5  # chair, instance 1 (6 px)
    inst[0:2, 0:3] = 1
    label[3:6, 0:2] = 5  # chair, instance 2 (6 px)
    inst[3:6, 0:2] = 2
    label[4:6, 5:8] = 1  # wall: never an instance
    inst[4:6, 5:8] = 3
    label[0, 7] = 7  # a 1-pixel table
    inst[0, 7] = 4
    d = root / 'scene0000_00'
    cv2.imwrite(str(d / 'color' / '0.jpg'), np.zeros((12, 16, 3), np.uint8))
    cv2.imwrite(str(d / 'color' / '1.jpg'), np.zeros((6, 8, 3), np.uint8))
    for f, (lab, ins) in (('0', (label, inst)),
                          ('1', (np.zeros_like(label), np.zeros_like(inst)))):
        cv2.imwrite(str(d / 'label' / f'{f}.png'), lab)
        cv2.imwrite(str(d / 'instance' / f'{f}.png'), ins)
    (root / 'scenes.txt').write_text('scene0000_00\n')
    frames = list(tool.scannet_frames(str(root), ['scene0000_00']))
    assert [f[3] for f in frames] == ['scene0000_00/color/0.jpg',
                                      'scene0000_00/color/1.jpg']
    coco = tool.convert(frames, min_area=1)
    assert len(coco['images']) == 1  # frame 1 has no instance
    anns = coco['annotations']
    assert [(a['category_id'], a['area']) for a in anns] == [
        (3, 24), (3, 24), (5, 4)]  # masks x2 to the 16x12 colour image
    assert anns[0]['bbox'] == [0, 0, 6, 4]
    assert coco['images'][0]['width'] == 16
    coco = tool.convert(frames, min_area=6, keep_empty=True)
    assert len(coco['images']) == 2
    assert [a['category_id'] for a in coco['annotations']] == [3, 3]
    # the same ids as an encoded image (label * 1000 + id), read as such
    enc = label.astype(np.uint16) * 1000 + inst
    cv2.imwrite(str(d / 'instance' / '0.png'), enc)
    assert tool.convert(frames[:1], min_area=1)['annotations'] == anns
    with pytest.raises(BadSampleError, match='0.png: instance ids must be'):
        tool.convert(frames[:1], min_area=1, instance_format='ids')
    # bad input names the file
    (d / 'label' / '1.png').unlink()
    with pytest.raises(BadSampleError, match=r'1.png: label file does not '):
        tool.convert(frames[1:], min_area=1, instance_format='ids')
    cv2.imwrite(str(d / 'instance' / '1.png'), np.zeros((6, 8, 3), np.uint8))
    with pytest.raises(BadSampleError, match='1.png: instance must be a '
                       'single-channel'):
        tool.convert(frames, min_area=1)
    (d / 'color' / '0.jpg').write_bytes(b'not a jpeg')
    with pytest.raises(BadSampleError, match=r'0.jpg: not a readable image'):
        tool.convert(frames[:1], min_area=1)
    with pytest.raises(BadSampleError, match=r'scene0001_00.color: scene '
                       'scene0001_00 has no color/ folder'):
        list(tool.scannet_frames(str(root), ['scene0001_00']))
    with pytest.raises(SystemExit):
        tool.main([str(root), str(tmp_path / 'x.json')])  # no --scenes


def test_nyuv2_mat_instances_become_object_ids(tmp_path):
    """nyuv2_mat_to_png.py writes one id per (894-class label, instance)
    pair: instance 1 of two labels that share a 13-class (cabinet, dresser
    -> furniture) stays two objects, which the COCO converter keeps apart."""
    nyu = load_converter('nyuv2_mat_to_png')
    label = np.array([[5, 5, 169], [169, 0, 5]])  # 894-class ids (H, W)
    inst = np.array([[1, 2, 1], [1, 1, 1]])
    np.testing.assert_array_equal(nyu.object_ids(label, inst),
                                  [[1, 2, 3], [3, 0, 1]])
    # through convert(): the HDF5 layout is transposed (N, W, H)
    mat = dict(images=np.zeros((1, 3, 3, 2), np.uint8),
               depths=np.ones((1, 3, 2), np.float32),
               labels=label.T[None], instances=inst.T[None])
    lut40 = np.zeros(nyu.NUM_NYU_CLASSES + 1, np.int64)
    lut40[[5, 169]] = 3  # both labels -> nyu40 cabinet
    lut13 = np.zeros(41, np.int64)
    lut13[3] = 6  # -> 13-class furniture
    nyu.convert(mat, str(tmp_path), lut40, lut13, indices=[1])
    written = cv2.imread(str(tmp_path / 'instance' / '0001.png'),
                         cv2.IMREAD_UNCHANGED)
    assert written.dtype == np.uint16
    np.testing.assert_array_equal(written, [[1, 2, 3], [3, 0, 1]])
    tool = load_tool()
    coco = tool.convert([(str(tmp_path / 'rgb' / '0001.png'),
                          str(tmp_path / 'label13' / '0001.png'),
                          str(tmp_path / 'instance' / '0001.png'),
                          'rgb/0001.png')], 'nyuv2', min_area=1)
    # three furniture objects (category 4), not two
    assert [(a['category_id'], a['area']) for a in coco['annotations']] == [
        (4, 2), (4, 1), (4, 2)]
