import { main } from './mirror';
import { exitWhenFlushed } from './process-end';

// The command has returned (every command awaits its own work) and set its exit code: once what
// it wrote is handed to the kernel, the process ends at once.
void main().then(exitWhenFlushed);
