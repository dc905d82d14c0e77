import { main } from './mirror';

void main();
