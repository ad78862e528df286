"""`python -m hotline.workorders`: calls consumer, outbox worker and deadline scanner."""

from hotline.workorders.runner import main

main()
