"""A grid search over λ and k on a Dask cluster, then a fitted model sent to a worker and back.

Shows: ``GridSearchCV(..., n_jobs=-1)`` under joblib's ``"dask"`` backend
(``pip install 'skgloss[distributed]'``): each candidate's fits run in the
cluster's worker processes, which load the encoder themselves (a model loads
in ``fit``, so only the parameters travel to a worker); the best candidate
is refitted here. Then the fitted model goes to a worker, predicts there, and
its predictions match this process's.

A ``LocalCluster`` stands in for a real one: to use one, pass its scheduler's
address to ``Client("tcp://HOST:8786")`` instead. On a machine with GPUs,
start one worker per GPU (``dask_cuda.LocalCUDACluster``, or
``CUDA_VISIBLE_DEVICES`` per worker) and keep ``device="auto"``: each worker
then trains on its own GPU.
Prints: one line per candidate (mean CV accuracy), where the fits ran, the
best parameters, held-out accuracy, and whether a worker's predictions agree.

    python examples/dask_grid_search.py                  # all-MiniLM-L6-v2 (skgloss[offline])
    python examples/dask_grid_search.py --model PATH     # any local encoder folder
"""

import argparse
import os

import numpy as np
from dask.distributed import Client, LocalCluster
from joblib import parallel_config
from sklearn.model_selection import GridSearchCV

from skgloss import GLossTextClassifier
from skgloss.datasets import load_support_tickets


class RecordPid:
    """A callback that remembers which process ran the fit (it travels with the estimator)."""

    def on_fit_begin(self, info):
        self.pid = os.getpid()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--n-train", type=int, default=200, help="training texts used (fewer: faster)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    X_train, y_train = load_support_tickets("train")
    X_test, y_test = load_support_tickets("test")
    X_train, y_train = X_train[:args.n_train], y_train[:args.n_train]

    # one thread per worker process, and as many torch threads: the workers share the machine's cores
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      env={"OMP_NUM_THREADS": "1"}) as cluster, Client(cluster) as client:
        clf = GLossTextClassifier(args.model, max_length=args.max_length, max_epochs=args.epochs, device="cpu",
                                  random_state=0)
        grid = GridSearchCV(clf, {"lam": [0.5, 0.8], "n_neighbors": [None, 8]}, cv=2, n_jobs=-1)
        with parallel_config(backend="dask"):
            grid.fit(X_train, y_train)
        for params, score in zip(grid.cv_results_["params"], grid.cv_results_["mean_test_score"]):
            print(f"lam={params['lam']}, n_neighbors={params['n_neighbors']}: CV accuracy {score:.3f}")
        print("best parameters:", grid.best_params_)
        print(f"held-out accuracy of the refitted model: {grid.score(X_test, y_test):.3f}")

        # a fit in a worker, its model back here, and this process's model predicting in a worker
        remote = client.submit(lambda est: est.fit(X_train, y_train),
                               clf.set_params(callbacks=[RecordPid()])).result()
        pid = remote.callbacks[0].pid
        print(f"fitted in worker process {pid} (this process: {os.getpid()}): {pid != os.getpid()}")
        here = remote.predict(X_test)
        there = client.submit(lambda est: est.predict(X_test), remote).result()
        print(f"predictions here and in a worker agree: {bool(np.array_equal(here, there))}")


if __name__ == "__main__":  # the workers are processes: they import this file without running main()
    main()
