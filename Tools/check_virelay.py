#!/usr/bin/env python3
"""Opens srtool's merged `batch` output in ViRelAy and CoRelAy, the tools its layout is for.

Runs `srtool batch` on the bundled model's samples in two shards (with --inputs), merges
them, then:
  1. checks the merged file's datasets, dtypes and shapes with h5py against ViRelAy's
     database specification (docs/source/contributors-guide/database-specification.rst);
  2. runs a CoRelAy spectral-clustering pipeline (SpRAy, as ViRelAy's
     docs/examples/meta_analysis.py) on the attributions and writes its analysis database;
  3. opens a ViRelAy project made of the input file, the attribution file and the analysis
     (virelay.model.Project), reads every sample, attribution and the analysis, and asks
     ViRelAy's REST server (virelay.server.Server, Flask's test client) for the project,
     every attribution and its rendered heatmap.
Prints one line per check and `virelay: ok` at the end; exits 1 on the first failure.

Usage: /work/ref/bin/python Tools/check_virelay.py [--srtool .build/debug/srtool]
Needs: pip install corelay virelay (ViRelAy 0.6.1 pins pillow<11; it works with newer).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from typing import Annotated

import h5py
import numpy

from corelay.base import Param
from corelay.pipeline.spectral import SpectralClustering
from corelay.processor.affinity import SparseKNN
from corelay.processor.base import Processor
from corelay.processor.clustering import KMeans
from corelay.processor.embedding import EigenDecomposition
from corelay.processor.flow import Sequential
from virelay.model import Project, Workspace
from virelay.server import Server

MODEL = 'Fixtures/bundled/shapes.onnx'
SAMPLES = 'Fixtures/bundled/samples'


class SumChannel(Processor):
    """Relevance summed over the channel axis (ViRelAy's meta_analysis.py 'spectral')."""

    def function(self, data):
        return data.sum(axis=1)


class Normalize(Processor):
    """Each map divided by its sum."""

    axes: Annotated[tuple, Param(tuple, (1, 2))]

    def function(self, data):
        return data / data.sum(self.axes, keepdims=True)


class Flatten(Processor):
    """One row per sample."""

    def function(self, data):
        return data.reshape(data.shape[0], -1)


def check(condition, message):
    if not condition:
        print(f'virelay: FAILED: {message}')
        sys.exit(1)
    print(f'  ok  {message}')


def srtool(binary, *arguments):
    return subprocess.run([binary, *arguments], check=True, capture_output=True, text=True).stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--srtool', default='.build/debug/srtool')
    args = parser.parse_args()
    binary = os.path.abspath(args.srtool)
    with tempfile.TemporaryDirectory() as work:
        out = os.path.join(work, 'out')
        for shard in ('0/2', '1/2'):
            srtool(binary, 'batch', MODEL, '--images', SAMPLES, '--out', out, '--shard', shard, '--inputs', '--quiet')
        merged = os.path.join(work, 'shapes.h5')
        srtool(binary, 'merge', out, '-o', merged)
        ranked = json.loads(srtool(binary, 'predict', MODEL, '--image', f'{SAMPLES}/circle_0.png', '--top', '4', '--json'))
        names = [p['label'] for p in sorted(ranked['results'][0]['predictions'], key=lambda p: p['index'])]
        classes = len(names)

        # 1. The layout, as ViRelAy's specification states it.
        with h5py.File(merged, 'r') as f:
            n = f['attribution'].shape[0]
            check(f['attribution'].dtype == numpy.float32 and f['attribution'].ndim == 4, f'attribution float32 {f["attribution"].shape}')
            check(f['index'].dtype.kind == 'u' and f['index'].shape == (n,), f'index {f["index"].dtype} {f["index"].shape}')
            check(f['label'].dtype.kind == 'u' and f['label'].shape == (n,), f'label {f["label"].dtype} {f["label"].shape}')
            check(f['prediction'].dtype == numpy.float32 and f['prediction'].shape == (n, classes), f'prediction float32 {f["prediction"].shape}')
            check((f['index'][:] == numpy.arange(n)).all(), 'index counts the rows in input order')
            check((f['label'][:] == f['prediction'][:].argmax(1)).all(), 'label is the class explained (top)')
            attributions = f['attribution'][:]
            labels = f['label'][:]
        with h5py.File(merged.replace('.h5', '.input.h5'), 'r') as f:
            check(f['data'].dtype == numpy.float32 and f['data'].shape == attributions.shape[:1] + (3, 64, 64), f'input data float32 {f["data"].shape}')

        # 2. CoRelAy: SpRAy over all samples, written as ViRelAy's analysis database.
        pipeline = SpectralClustering(
            preprocessing=Sequential([SumChannel(), Normalize(), Flatten()]),
            affinity=SparseKNN(n_neighbors=4, symmetric=True),
            embedding=EigenDecomposition(n_eigval=4, is_output=True),
            clustering=KMeans(n_clusters=4, is_output=True))
        (eigenvalues, embedding), clustering = pipeline(attributions.astype(numpy.float64))
        check(embedding.shape == (n, 4) and clustering.shape == (n,), f'CoRelAy spectral embedding {embedding.shape}, k-means labels {clustering.shape}')
        analysis = os.path.join(work, 'analysis.h5')
        with h5py.File(analysis, 'w') as f:
            group = f.require_group('all')
            group['index'] = numpy.arange(n, dtype='uint32')
            group.require_group('embedding')['spectral'] = embedding.astype(numpy.float32)
            group['embedding']['spectral'].attrs['eigenvalue'] = eigenvalues.astype(numpy.float32)
            group.require_group('cluster')['kmeans-04'] = clustering
            group['cluster']['kmeans-04'].attrs['embedding'] = 'spectral'
            group['cluster']['kmeans-04'].attrs['k'] = 4

        # 3. ViRelAy: the project, each sample and attribution, the analysis, the REST API.
        with open(os.path.join(work, 'label-map.json'), 'w', encoding='utf-8') as f:
            json.dump([{'index': i, 'word_net_id': f'class{i}', 'name': name} for i, name in enumerate(names)], f)
        project_file = os.path.join(work, 'project.yaml')
        with open(project_file, 'w', encoding='utf-8') as f:
            f.write(f'''project:
  name: srtool batch check
  model: shapes.onnx
  label_map: label-map.json
  dataset:
    name: bundled samples
    type: hdf5
    path: shapes.input.h5
    input_width: 64
    input_height: 64
    up_sampling_method: none
    down_sampling_method: none
  attributions:
    attribution_method: LRP epsilon-plus-flat (srtool)
    attribution_strategy: predicted_label
    sources:
    - shapes.h5
  analyses:
  - analysis_method: spectral
    sources:
    - analysis.h5
''')
        project = Project(project_file)
        for i in range(n):
            sample = project.get_sample(i)
            attribution = project.get_attribution(i)
            if attribution.labels[0].name != names[labels[i]] or sample.labels[0].name != names[labels[i]]:
                check(False, f'sample {i}: ViRelAy reads the label {attribution.labels[0].name}, srtool wrote {names[labels[i]]}')
            if attribution.data.shape != (64, 64, 3) or not numpy.array_equal(numpy.moveaxis(attribution.data, 2, 0), attributions[i]):
                check(False, f'sample {i}: ViRelAy reads another attribution')
        check(True, f'ViRelAy Project reads all {n} samples and attributions with their labels ({", ".join(names)})')
        result = project.get_analysis('spectral', 'all', 'kmeans-04', 'spectral')
        check(len(result.clustering) == n, 'ViRelAy reads the CoRelAy analysis')
        project.close()

        workspace = Workspace()
        workspace.add_project(project_file)
        client = Server(workspace).app.test_client()
        projects = client.get('/api/projects')
        check(projects.status_code == 200 and len(projects.get_json()) == 1, 'ViRelAy server lists the project')
        for i in range(n):
            a = client.get(f'/api/projects/0/attributions/{i}')
            h = client.get(f'/api/projects/0/attributions/{i}/heatmap?colorMap=gray-red')
            if a.status_code != 200 or h.status_code != 200 or not h.data.startswith(b'\xff\xd8'):
                check(False, f'ViRelAy server: attribution {i} answers {a.status_code}, its heatmap {h.status_code}')
        check(True, f'ViRelAy server answers every attribution and renders its heatmap ({n} JPEGs)')
    print('virelay: ok')


if __name__ == '__main__':
    main()
