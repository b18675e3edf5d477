from .transforms import *  # noqa: F401,F403
from .errors import BadSampleError  # noqa: F401
from .depth_io import (DEPTH_DECODERS, DEPTH_ENCODINGS,  # noqa: F401
                       check_encoding, decode_depth, read_depth, read_label,
                       read_rgb)
from .contract import check_sample  # noqa: F401
from .base_rgbd import BaseRGBDDataset  # noqa: F401
from .synthetic import SyntheticRGBDScenes  # noqa: F401
from .scannet import LoadScanNetFrame, ScanNetFrames  # noqa: F401
from .sunrgbd import SUNRGBDDataset  # noqa: F401
from .nyuv2 import NYUv2Dataset  # noqa: F401
from .kitti import KITTIInfoDataset, KITTIRawObjectDataset  # noqa: F401
from .rgbd_list import RGBDListDataset  # noqa: F401
from .rgbd_video import LoadRGBDClip, RGBDVideoClipDataset  # noqa: F401
from .waymo import WaymoKITTIFormatDataset  # noqa: F401
from .nuscenes import NuScenesImageLiDARDataset  # noqa: F401
from .kitti_depth import KITTIDepthDataset  # noqa: F401
from .label_ratio import (LabelRatioDataset, select_videos,  # noqa: F401
                          video_name)
from .clip_sequence import (ClipFeatureSequenceDataset,  # noqa: F401
                            LoadClipFeatures, PackClipSequence,
                            read_clip_annotations)
from .seg import *  # noqa: F401,F403
