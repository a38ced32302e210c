# The PyTorch side of bench/models.ts: the same LeNet training step as src/models/zoo.ts's lenet
# (normalise, conv 20@5x5 ReLU, maxpool 2, conv 50@5x5 ReLU, maxpool 2, dense 800->500 ReLU,
# dense 500->10; soft-label cross-entropy from logits; SGD lr 0.01 momentum 0.5) at batch 64, on one
# CPU thread. A small server so the bench can alternate it with the JS runs on a shared machine:
# prints "ready", then answers each "steps N MODEL" line with one JSON line of per-step wall and CPU
# ms. MODEL "linear" is the plain model; "dense-as-conv" computes the two dense layers as oneDNN
# convolutions (fc1 a 4x4 convolution over the 50 feature maps, the logits a 1x1 one): the same
# products, but off the BLAS that torch.nn.Linear calls, which in Debian's python3-torch is the
# generic reference BLAS (BLAS_INFO=generic: ~4/5 of its step). A build with MKL or OpenBLAS (the
# pip wheels) runs its dense layers about as fast as "dense-as-conv" does.
import json
import sys
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.set_num_interop_threads(1)
torch.manual_seed(0)


class LeNet(torch.nn.Module):
    def __init__(self, dense_as_conv, classes=10):
        super().__init__()
        self.dense_as_conv = dense_as_conv
        self.conv1 = torch.nn.Conv2d(1, 20, 5)
        self.conv2 = torch.nn.Conv2d(20, 50, 5)
        self.fc1 = torch.nn.Conv2d(50, 500, 4) if dense_as_conv else torch.nn.Linear(800, 500)
        self.logits = torch.nn.Conv2d(500, classes, 1) if dense_as_conv else torch.nn.Linear(500, classes)

    def forward(self, x):
        x = (x - 0.1307) / 0.3081
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        if self.dense_as_conv:
            return self.logits(F.relu(self.fc1(x))).flatten(1)
        x = F.relu(self.fc1(x.flatten(1)))
        return self.logits(x)


images = torch.rand(64, 1, 28, 28)
targets = F.one_hot(torch.randint(0, 10, (64,)), 10).float()


def make_step(dense_as_conv):
    model = LeNet(dense_as_conv)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)

    def step():
        optimizer.zero_grad()
        loss = -(targets * F.log_softmax(model(images), dim=1)).sum(dim=1).mean()
        loss.backward()
        optimizer.step()
        return loss.item()  # the read-back the JS step does too (dataSync)

    for _ in range(5):
        step()
    return step


steps = {"linear": make_step(False), "dense-as-conv": make_step(True)}
print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
for line in sys.stdin:
    parts = line.split()
    if len(parts) != 3 or parts[0] != "steps" or parts[2] not in steps:
        print(json.dumps({"error": f"expected 'steps N MODEL' with MODEL one of {list(steps)}, got {line.strip()!r}"}), flush=True)
        continue
    step = steps[parts[2]]
    wall, cpu = [], []
    for _ in range(int(parts[1])):
        w0, c0 = time.perf_counter(), time.process_time()
        step()
        wall.append((time.perf_counter() - w0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    print(json.dumps({"wall": wall, "cpu": cpu}), flush=True)
