// Placeholder page: asks the server whether it is up and says so.
const health = document.querySelector("#health");

async function showHealth() {
  try {
    const response = await fetch("/healthz");
    const body = await response.json();
    health.textContent = body.status;
    health.dataset.state = body.status;
  } catch (error) {
    health.textContent = `unreachable (${error.message})`;
    health.dataset.state = "error";
  }
}

showHealth();
