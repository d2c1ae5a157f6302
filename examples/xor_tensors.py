"""A 2-2-1 network learns XOR with raw tensors: forward pass, MSE loss, backward pass by the
chain rule, and a hand-written gradient descent update. (The README shows this same program.)"""

import chainrule as cr

cr.manual_seed(2)
X = cr.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
y = cr.tensor([[0.0], [1.0], [1.0], [0.0]])
W1, b1 = cr.randn(2, 2, requires_grad=True), cr.zeros(2, requires_grad=True)
W2, b2 = cr.randn(2, 1, requires_grad=True), cr.zeros(1, requires_grad=True)
for step in range(2001):
    hidden = (X @ W1 + b1).tanh()                  # forward: weighted sums, activations
    output = (hidden @ W2 + b2).sigmoid()
    loss = ((output - y) ** 2).mean()              # the error
    loss.backward()                                # backward: deltas by the chain rule
    with cr.no_grad():
        for p in (W1, b1, W2, b2):                 # gradient descent step
            p.data -= 2.0 * p.grad
            p.grad = None
    if step % 400 == 0:
        print(f"step {step:4d}  loss {loss.item():.4f}")
print("predictions:", output.detach().numpy().ravel().round(2))
