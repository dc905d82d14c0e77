// Electron main process: filled in by the shell work (issue 2). Placeholder keeps the build green.
import { app } from 'electron';

void app.whenReady().then(() => app.quit());
