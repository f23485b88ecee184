"""A metric plugin: top-5 accuracy (%) of every stored evaluation, from the predictions rib keeps."""
from rib_core.api import Metric, hookimpl


@hookimpl
def register_metrics(register):
    register("mylab-top5", "top5:TopFive", "top-5 accuracy (%) on the dataset's own classes")


class TopFive(Metric):
    def compute(self, results):
        rows = []
        for e in results.evaluations:
            p = e.predictions  # read from disk now; let it go after use (a paper-size report holds thousands)
            hit = (p["top_idx"][:, :5] == p["labels"][:, None]).any(axis=1)
            weights = e.weights(p)  # ImageNet-C: its groups averaged level by level, as accuracy is
            rows.append({"metric": self.name, "model": e.model, "strategy": e.strategy, "ft_dataset": e.ft_dataset,
                         "eval_dataset": e.eval_dataset, "value": 100.0 * float((weights * hit).sum()),
                         "n_images": e.n_images})  # extra keys are kept in the report
        return rows
