# ruff: noqa: E501  (a table of one-line models reads best unwrapped)
"""Matrix Cookbook and machine-learning identities: (name, model, wrt, expected gradients).

Each expected text is the textbook closed form as matcalc prints it. Tests
check every entry numerically (central differences, random distinct sizes)
and compare the printed form, so a regression in simplification shows.
"""

IDENTITIES = [
    # traces (Matrix Cookbook §2.5)
    ("tr(AX)", "A: matrix(n, m); X: matrix(m, n); f = tr(A*X)", "X", ["Aᵀ"]),
    ("tr(AXB)", "A: matrix(p, m); X: matrix(m, n); B: matrix(n, p); f = tr(A*X*B)", "X", ["Aᵀ Bᵀ"]),
    ("tr(XᵀA)", "A, X: matrix(m, n); f = tr(X'*A)", "X", ["A"]),
    ("tr(AXᵀB)", "A: matrix(p, n); X: matrix(m, n); B: matrix(m, p); f = tr(A*X'*B)", "X", ["B A"]),
    ("tr(XᵀX)", "X: matrix(m, n); f = tr(X'*X)", "X", ["2 X"]),
    ("tr(XAXᵀ)", "X: matrix(m, n); A: matrix(n, n); f = tr(X*A*X')", "X", ["X(Aᵀ + A)"]),
    ("tr(XᵀAX)", "X: matrix(m, n); A: matrix(m, m); f = tr(X'*A*X)", "X", ["(A + Aᵀ) X"]),
    ("tr(X^2)", "X: matrix(n, n); f = tr(X^2)", "X", ["2 Xᵀ"]),
    ("tr(X^3)", "X: matrix(n, n); f = tr(X^3)", "X", ["3 (Xᵀ)²"]),
    ("tr(inv(X)A)", "X, A: matrix(n, n); f = tr(inv(X)*A)", "X", ["−inv(X)ᵀ Aᵀ inv(X)ᵀ"]),
    # linear and bilinear forms (§2.4)
    ("aᵀx", "a, x: vector(n); f = a'*x", "x", ["a"]),
    ("aᵀXb", "a: vector(m); b: vector(n); X: matrix(m, n); f = a'*X*b", "X", ["a bᵀ"]),
    ("aᵀXᵀb", "a: vector(n); b: vector(m); X: matrix(m, n); f = a'*X'*b", "X", ["b aᵀ"]),
    ("xᵀAy wrt A", "x: vector(m); y: vector(n); A: matrix(m, n); f = x'*A*y", "A", ["x yᵀ"]),
    ("A:X", "A, X: matrix(m, n); f = A : X", "X", ["A"]),
    ("X:X", "X: matrix(m, n); f = X : X", "X", ["2 X"]),
    ("sum(X∘A)", "A, X: matrix(m, n); f = sum(X .* A)", "X", ["A"]),
    ("vec(X)ᵀa", "X: matrix(m, n); f = vec(X)'*a", "X", ["unvec(a)"]),
    ("aᵀDiag(x)b", "a, b, x: vector(n); f = a'*Diag(x)*b", "x", ["a ∘ b"]),
    ("diag(X)ᵀa", "X: matrix(n, n); a: vector(n); f = diag(X)'*a", "X", ["Diag(a)"]),
    # quadratic forms
    ("xᵀAx", "x: vector(n); A: matrix(n, n); f = x'*A*x", "x", ["(A + Aᵀ) x"]),
    ("½xᵀAx − bᵀx", "x, b: vector(n); A: matrix(n, n); f = 1/2*x'*A*x - b'*x", "x", ["1/2 (A + Aᵀ) x − b"]),
    ("xᵀSx symmetric", "x: vector(n); S: symmetric(n); f = x'*S*x", "x", ["2 S x"]),
    ("xᵀAx wrt A", "x: vector(n); A: matrix(n, n); f = x'*A*x", "A", ["x xᵀ"]),
    ("αxᵀx", "x: vector(n); alpha: scalar; f = alpha*x'*x", "alpha,x", ["xᵀ x", "2 α x"]),
    # inverse, determinant (§2.1-2.2)
    ("logdet(X)", "X: matrix(n, n); f = logdet(X)", "X", ["inv(X)ᵀ"]),
    ("logdet(S) symmetric", "S: symmetric(n); f = logdet(S)", "S", ["inv(S)"]),
    ("det(X)", "X: matrix(n, n); f = det(X)", "X", ["f inv(X)ᵀ"]),
    ("aᵀinv(X)b", "a, b: vector(n); X: matrix(n, n); f = a'*inv(X)*b", "X", ["−inv(X)ᵀ a bᵀ inv(X)ᵀ"]),
    # norms
    ("norm2(x)", "x: vector(n); f = norm2(x)", "x", ["x / f"]),
    ("norm2(x)^2", "x: vector(n); f = norm2(x)^2", "x", ["2 x"]),
    ("normF(X)", "X: matrix(m, n); f = normF(X)", "X", ["X / f"]),
    ("norm1(x)", "x: vector(n); f = norm1(x)", "x", ["sign(x)"]),
    ("norm2(x - y)^2", "x, y: vector(n); f = norm2(x - y)^2", "x,y", ["2 (x − y)", "2 (y − x)"]),
    # entry-wise functions
    ("sum(exp(X))", "X: matrix(m, n); f = sum(exp(X))", "X", ["exp(X)"]),
    ("sum(log(X))", "X: matrix(m, n); f = sum(log(X))", "X", ["1 ⊘ X"]),
    ("sum(sqrt(x))", "x: vector(n); f = sum(sqrt(x))", "x", ["1/2 (1 ⊘ sqrt(x))"]),
    ("sum(abs(X))", "X: matrix(m, n); f = sum(abs(X))", "X", ["sign(X)"]),
    ("sum(tanh(Wx))", "W: matrix(m, n); x: vector(n); f = sum(tanh(W*x))", "W", ["(1 − tanh(W x).^2) xᵀ"]),
    # least squares and regression
    ("least squares", "X: matrix(m, n); w: vector(n); y: vector(m); f = 1/2*norm2(X*w - y)^2", "w", ["Xᵀ(X w − y)"]),
    ("ridge", "X: matrix(m, n); w: vector(n); y: vector(m); lambda: scalar; f = norm2(X*w - y)^2 + lambda*norm2(w)^2", "w", ["2 Xᵀ(X w − y) + 2 λ w"]),
    ("least squares wrt A", "A: matrix(m, n); x: vector(n); y: vector(m); f = norm2(A*x - y)^2", "A", ["2 (A x − y) xᵀ"]),
    ("logistic (matrixcalculus.org)", "X: matrix(m, n); w: vector(n); y: vector(m); f = sum(log(exp(-y.*(X*w)) + vector(1)))", "w", ["−Xᵀ(exp(−(y ∘ (X w))) ∘ y ⊘ (exp(−(y ∘ (X w))) + 1))"]),
    ("logistic regression", "X: matrix(m, n); w: vector(n); y: vector(m); f = sum(softplus(X*w)) - y'*X*w", "w", ["Xᵀ(sigmoid(X w) − y)"]),
    ("xᵀAx + c sin(y)ᵀx (matrixcalculus.org)", "x, y: vector(n); A: matrix(n, n); c: scalar; f = x'*A*x + c*sin(y)'*x", "x", ["(A + Aᵀ) x + c sin(y)"]),
    ("logistic cross-entropy", "X: matrix(m, n); w: vector(n); y: vector(m); p = sigmoid(X*w); f = -(y'*log(p) + (1 - y)'*log(1 - p))", "w", ["Xᵀ(p − y)"]),
    ("Rayleigh quotient", "x: vector(n); A: matrix(n, n); f = x'*A*x / (x'*x)", "x", ["(A + Aᵀ) x / (xᵀ x) − 2 (xᵀ A x) x / (xᵀ x)²"]),
    ("low-rank factorisation", "U: matrix(n, r); V: matrix(m, r); R: matrix(n, m); f = norm2(R - U*V')^2", "U,V", ["2 (U Vᵀ − R) V", "2 (U Vᵀ − R)ᵀ U"]),
    # softmax and log-sum-exp
    ("logsumexp(x) − yᵀx", "x, y: vector(n); f = logsumexp(x) - y'*x", "x", ["softmax(x) − y"]),
    ("softmax cross-entropy", "W: matrix(k, n); x: vector(n); y: vector(k); f = -y'*log(softmax(W*x))", "W", ["(sum(y) softmax(W x) − y) xᵀ"]),
    ("softmax(x)ᵀa", "x, a: vector(n); f = softmax(x)'*a", "x", ["a ∘ softmax(x) − f softmax(x)"]),
    # Gaussian log-likelihood
    ("Gaussian mean", "x, mu: vector(n); S: symmetric(n); f = -1/2*logdet(S) - 1/2*(x - mu)'*inv(S)*(x - mu)", "mu", ["inv(S) (x − μ)"]),
    ("Gaussian covariance", "x, mu: vector(n); S: symmetric(n); f = -1/2*logdet(S) - 1/2*(x - mu)'*inv(S)*(x - mu)", "S", ["1/2 (inv(S) (x − μ) (x − μ)ᵀ inv(S) − inv(S))"]),
    ("Gaussian negative log-likelihood", "x, mu: vector(n); S: symmetric(n); f = (x - mu)'*inv(S)*(x - mu) + logdet(S)", "S,mu", ["inv(S) − inv(S) (x − μ) (x − μ)ᵀ inv(S)", "2 inv(S) (μ − x)"]),
    ("Gaussian process evidence", "K: symmetric(n); y: vector(n); f = y'*inv(K)*y + logdet(K)", "K", ["inv(K) − inv(K) y yᵀ inv(K)"]),
    # networks
    ("two-layer net wrt W (seed 000)", "x: vector(n); b: vector(m); W: matrix(m, n); M: matrix(p, m); c, y: vector(p); s = W*x + b; a = relu(s); t = M*a + c; f = 1/2*sum((t - y).^2)", "W", ["((Mᵀ(t − y)) ∘ step(s)) xᵀ"]),
    ("sigmoid layer", "W: matrix(m, n); x: vector(n); y: vector(m); h = sigmoid(W*x); f = 1/2*norm2(h - y)^2", "W", ["((h − y) ∘ h ∘ (1 − h)) xᵀ"]),
    ("sigmoid layer on a batch", "X: matrix(n, d); W: matrix(d, k); b: vector(k); f = sum(sigmoid(X*W + ones(n)*b'))", "W,b", ["Xᵀ(sigmoid(X W + 𝟏 bᵀ) ∘ (1 − sigmoid(X W + 𝟏 bᵀ)))", "(sigmoid(X W + 𝟏 bᵀ) ∘ (1 − sigmoid(X W + 𝟏 bᵀ)))ᵀ 𝟏"]),
    ("scalar function of a scalar", "alpha, beta: scalar; f = exp(alpha)*beta^2 + sin(alpha*beta)", "alpha,beta", ["β² exp(α) + β cos(α β)", "2 β exp(α) + α cos(α β)"]),
]
